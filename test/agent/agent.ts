// Runs `strongroom agent …` as the Job would: the real command line, secrets in the environment only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last line of standard output, parsed. */
  result: any;
}

export interface StartedAgent {
  child: ChildProcess;
  done: Promise<AgentRun>;
}

export function startAgent(args: string[], env: Record<string, string> = {}): StartedAgent {
  // Only what the Job would give it, so a test cannot pass because of something in this process's environment.
  const child = spawn(process.execPath, [MAIN, 'agent', ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<AgentRun>((resolve) =>
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let result: any;
      try {
        result = JSON.parse(last);
      } catch {
        result = undefined;
      }
      resolve({ code, stdout, stderr, result });
    }),
  );
  return { child, done };
}

export function agent(args: string[], env: Record<string, string> = {}): Promise<AgentRun> {
  return startAgent(args, env).done;
}

/** Like `agent`, but fails the test with the agent's own words when it does not exit 0. */
export async function agentOk(args: string[], env: Record<string, string> = {}): Promise<any> {
  const run = await agent(args, env);
  if (run.code !== 0) throw new Error(`agent ${args[0]} exited ${run.code}: ${run.stderr}`);
  return run.result;
}

export interface CapturedPatch {
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: any;
}

/** A stand-in for the Kubernetes API that records the agent's status patches. */
export async function statusRecorder(onPatch: (patch: CapturedPatch) => void = () => {}) {
  const patches: CapturedPatch[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const patch = {
        path: `${req.method} ${req.url}`,
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString() || 'null'),
      };
      patches.push(patch);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      onPatch(patch);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    patches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
