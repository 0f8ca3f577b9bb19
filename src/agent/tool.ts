// The engines' own programs (pg_dump, pg_restore, psql, etcdctl, tar ...) as child processes. A child gets only the
// environment it needs — never the agent's own, which holds repository credentials and the encryption key — and its
// passwords only through the environment, never on its command line, where any process on the node could read
// them. A tool that fails fails the backup even when its output ended cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ToolOptions {
  /** Variables on top of the minimal environment (PATH, HOME, LANG). */
  env?: Record<string, string>;
  /** Values to blank out of error messages, such as passwords a tool might echo. */
  secrets?: readonly string[];
  signal?: AbortSignal;
}

export class ToolError extends Error {
  override name = 'ToolError';
}

const STDERR_KEPT = 4096;

function environment(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' };
  if (process.env['HOME']) env['HOME'] = process.env['HOME'];
  return { ...env, ...extra };
}

interface Started {
  child: ChildProcess;
  /** Resolves when the tool exited with 0; rejects with its exit status and the tail of its stderr otherwise. */
  exited: Promise<void>;
}

function start(command: string, args: readonly string[], options: ToolOptions, stdin: 'pipe' | 'ignore', stdout: 'pipe' | 'ignore'): Started {
  const child = spawn(command, args, { env: environment(options.env), stdio: [stdin, stdout, 'pipe'], signal: options.signal });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (error) => reject(new ToolError(`${command}: ${error.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      let tail = stderr.trim();
      for (const secret of options.secrets ?? []) if (secret) tail = tail.replaceAll(secret, '***');
      reject(new ToolError(`${command} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${tail ? `: ${tail}` : ''}`));
    });
  });
  return { child, exited };
}

/** Runs a tool to its end and answers what it printed: for short queries (versions, sizes, status). */
export async function runTool(command: string, args: readonly string[], options: ToolOptions = {}): Promise<string> {
  const { child, exited } = start(command, args, options, 'ignore', 'pipe');
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  await exited;
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs a tool for its effect; its output is discarded. */
export async function execTool(command: string, args: readonly string[], options: ToolOptions = {}): Promise<void> {
  await start(command, args, options, 'ignore', 'ignore').exited;
}

/**
 * The tool's standard output as a stream that ends only once the tool has exited with 0, and errors otherwise; a
 * consumer that stops reading (a failed upload, an abort) kills the tool.
 */
export function toolOutput(command: string, args: readonly string[], options: ToolOptions = {}): Readable {
  const { child, exited } = start(command, args, options, 'ignore', 'pipe');
  exited.catch(() => {}); // observed below; a tool killed because the consumer stopped is not an error of its own
  async function* output(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of child.stdout!) yield chunk as Buffer;
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
  return Readable.from(output(), { objectMode: false, highWaterMark: 64 * 1024 });
}

/**
 * Runs a tool that reads `input` on its standard input. Should the input fail (an archive that does not decode), the
 * tool is killed before its standard input is closed, so it never sees an end of input and never completes what it
 * was given: pg_restore's single transaction is rolled back, tar's half-extracted directory is discarded. When the
 * tool fails first, its own error is the one reported.
 */
export async function toolInput(command: string, args: readonly string[], input: Readable, options: ToolOptions = {}): Promise<void> {
  const { child, exited } = start(command, args, options, 'pipe', 'ignore');
  exited.catch(() => {}); // observed below
  // Registered before the pipeline's own listener, so the kill comes before the pipeline closes standard input.
  const kill = () => child.kill('SIGKILL');
  input.once('error', kill);
  try {
    await pipeline(input, child.stdin!);
  } catch (error) {
    kill();
    await exited.catch((toolError: unknown) => {
      // A tool that exited on its own (not by our kill) explains the broken pipe better than the pipe does.
      if (child.signalCode !== 'SIGKILL') throw toolError;
    });
    throw error;
  } finally {
    input.off('error', kill);
  }
  await exited;
}

/** Whether `command` is an executable on the agent's PATH, where the tools are looked up. */
export async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && (await access(join(dir, command), constants.X_OK).then(() => true, () => false))) return true;
  }
  return false;
}
