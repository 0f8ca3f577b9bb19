// Runs kubectl of the control plane's own release (built by test/cluster/build.ts) against a Strongroom kubeconfig
// the way a user does. Every run gets its own empty `--cache-dir`, so discovery or OpenAPI cached by an earlier run
// can never hide a bug in what the server serves now.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKubectl } from '../cluster/build.ts';

export interface KubectlResult {
  /** The exit code; -1 when kubectl was killed (by the timeout or a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to kubectl's stdin (for `-f -`). */
  input?: string;
  /** Extra environment variables, e.g. KUBE_EDITOR. */
  env?: Record<string, string>;
  /** kubectl is killed after this long, so a hanging command fails the test instead of hanging it. */
  timeoutMs?: number;
}

/** A kubectl left running in the background, e.g. `get -w`, whose output lines are collected as they arrive. */
export interface BackgroundKubectl {
  readonly lines: string[];
  /** The exit of the process, once it has exited on its own or been stopped. */
  readonly exited: Promise<KubectlResult>;
  hasExited(): boolean;
  /** Resolves with the first output line matching `pattern` (rejects after `ms` or when kubectl exits first). */
  waitForLine(pattern: RegExp, ms?: number): Promise<string>;
  /** SIGTERM; resolves when the process has exited. */
  stop(): Promise<KubectlResult>;
}

export interface Kubectl {
  run(args: string[], options?: RunOptions): Promise<KubectlResult>;
  /** Runs kubectl and throws with its stderr unless it exits 0; returns stdout. */
  ok(args: string[], options?: RunOptions): Promise<string>;
  background(args: string[]): BackgroundKubectl;
  /** Writes a manifest (or any text) into this kubectl's scratch directory and returns its path. */
  file(name: string, content: string): string;
  /** Kills any kubectl still running and removes the scratch directory. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const kubectlBinary = await ensureKubectl();

export function kubectlFor(kubeconfigPath: string): Kubectl {
  const scratch = mkdtempSync(join(tmpdir(), 'strongroom-kubectl-'));
  const running = new Set<ChildProcess>();
  let runs = 0;

  // Global flags first: a fresh cache per run and no ambient KUBECONFIG or ~/.kube state.
  const argv = (args: string[]) => [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${join(scratch, `cache-${runs++}`)}`, ...args];
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, KUBECONFIG: kubeconfigPath, HOME: scratch, ...extra });

  function run(args: string[], options: RunOptions = {}): Promise<KubectlResult> {
    return new Promise((resolve) => {
      const child = execFile(
        kubectlBinary,
        argv(args),
        { env: env(options.env), timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          running.delete(child);
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          const killed = error?.killed ? `\n[kubectl killed after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms]` : '';
          resolve({ code, stdout: String(stdout), stderr: String(stderr) + killed });
        },
      );
      running.add(child);
      child.stdin?.end(options.input);
    });
  }

  async function ok(args: string[], options?: RunOptions): Promise<string> {
    const result = await run(args, options);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  function background(args: string[]): BackgroundKubectl {
    const child = spawn(kubectlBinary, argv(args), { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const lines: string[] = [];
    const listeners = new Set<() => void>();
    let stdout = '';
    let stderr = '';
    let partial = '';
    let done = false;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      partial += chunk;
      const complete = partial.split('\n');
      partial = complete.pop()!;
      lines.push(...complete);
      for (const listener of [...listeners]) listener();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<KubectlResult>((resolve) => {
      child.on('close', (code) => {
        running.delete(child);
        done = true;
        if (partial) lines.push(partial);
        for (const listener of [...listeners]) listener();
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
    return {
      lines,
      exited,
      hasExited: () => done,
      waitForLine(pattern, ms = 15_000) {
        return new Promise((resolve, reject) => {
          const finish = (settle: () => void) => {
            clearTimeout(timer);
            listeners.delete(check);
            settle();
          };
          const describe = () => `kubectl ${args.join(' ')}: no line matching ${pattern}; output so far:\n${lines.join('\n')}\nstderr:\n${stderr}`;
          const check = () => {
            const line = lines.find((l) => pattern.test(l));
            if (line !== undefined) finish(() => resolve(line));
            else if (done) finish(() => reject(new Error(`exited first; ${describe()}`)));
          };
          const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${ms} ms; ${describe()}`))), ms);
          listeners.add(check);
          check();
        });
      },
      async stop() {
        if (!done) child.kill('SIGTERM');
        return exited;
      },
    };
  }

  return {
    run,
    ok,
    background,
    file(name, content) {
      const path = join(scratch, name);
      writeFileSync(path, content);
      return path;
    },
    async close() {
      const children = [...running];
      await Promise.all(
        children.map((child) => new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('close', () => resolve());
          child.kill('SIGKILL');
        })),
      );
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * The rows of kubectl's table output as arrays of cells, header first. kubectl aligns every cell of a column with its
 * header, so cells are cut at the header's column offsets: an empty cell (a nil from the server) is ''.
 */
export function tableRows(stdout: string): string[][] {
  const [header, ...rows] = stdout.split('\n').filter((line) => line.trim() !== '');
  if (header === undefined) return [];
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
  const cut = (line: string) => starts.map((start, i) => line.slice(start, starts[i + 1]).trim());
  return [cut(header), ...rows.map(cut)];
}
