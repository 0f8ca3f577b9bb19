// The servers under test run as child processes, so the load generator never shares their event loop. Their
// resident memory is read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { BenchClient, type Credentials } from './client.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 60_000;

export interface ChildServer {
  url: string;
  pid: number;
  /** Resident set size now, in MiB. */
  residentMiB(): number;
  /** User and system CPU time used so far, in seconds (10 ms steps). */
  cpuSeconds(): number;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

// An aborted bench must not leave servers behind holding ports and memory. Signals exit through process.exit, which
// runs the exit hook (their default action would not).
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
    process.once('SIGINT', () => process.exit(130));
    process.once('SIGTERM', () => process.exit(143));
  }
  children.add(child);
  child.on('exit', () => children.delete(child));
}

/** VmRSS of a process, in MiB. */
export function residentMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

function childServer(child: ChildProcess, url: string): ChildServer {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    url,
    pid: child.pid!,
    residentMiB: () => residentMiB(child.pid!),
    cpuSeconds: () => cpuSeconds(child.pid!),
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function logTail(logPath: string): string {
  return existsSync(logPath) ? readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-20).join('\n') : '';
}

export interface StrongroomProcess extends ChildServer {
  credentials: Credentials;
}

/**
 * Runs `strongroom serve` on a free port with its generated PKI, and waits until /readyz answers 200. The URL and
 * the admin identity come from the kubeconfig it writes, as kubectl would take them.
 */
export async function startStrongroom(dataDir: string, logPath: string): Promise<StrongroomProcess> {
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, ['src/cli/main.ts', 'serve', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--secure-port', '0'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  track(child);
  const failed = () => child.exitCode !== null || child.signalCode !== null;
  const kubeconfigPath = `${dataDir}/kubeconfig`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  const giveUp = (why: string): never => {
    child.kill('SIGKILL');
    throw new Error(`strongroom ${why}; its log (${logPath}):\n${logTail(logPath)}`);
  };
  while (!existsSync(kubeconfigPath)) {
    if (failed()) giveUp('exited before serving');
    if (Date.now() > deadline) giveUp('wrote no kubeconfig in time');
    await sleep(100);
  }
  const config = parse(readFileSync(kubeconfigPath, 'utf8'));
  const decode = (data: string) => Buffer.from(data, 'base64').toString('utf8');
  const url: string = config.clusters[0].cluster.server;
  const credentials: Credentials = {
    ca: decode(config.clusters[0].cluster['certificate-authority-data']),
    cert: decode(config.users[0].user['client-certificate-data']),
    key: decode(config.users[0].user['client-key-data']),
  };
  const probe = new BenchClient(url, credentials, 1);
  try {
    for (;;) {
      if (failed()) giveUp('exited before becoming ready');
      if (Date.now() > deadline) giveUp('did not become ready in time');
      const ready = await probe.request('GET', '/readyz').catch(() => undefined);
      if (ready?.status === 200) break;
      await sleep(100);
    }
  } finally {
    probe.close();
  }
  return { ...childServer(child, url), credentials };
}

/** Runs bare-server.ts with the same serving certificate and client CAs, serving the captured answers. */
export async function startBareServer(pkiDir: string, fixturesDir: string, logPath: string): Promise<ChildServer> {
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-server.ts', import.meta.url)), pkiDir, fixturesDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', log],
  });
  closeSync(log);
  track(child);
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  try {
    for await (const line of lines) {
      const { port } = JSON.parse(line) as { port: number };
      return childServer(child, `https://127.0.0.1:${port}`);
    }
  } finally {
    clearTimeout(timer);
    lines.close();
  }
  throw new Error(`the bare server exited before listening; its log (${logPath}):\n${logTail(logPath)}`);
}
