// Child processes of the local control plane: output to a log file per component, early exits reported with the
// log's tail, and no process outliving the Node process that started it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

export interface ComponentProcess {
  name: string;
  logPath: string;
  /** Why the process ended on its own, or undefined while it runs (or after stop()). */
  failure(): Promise<string | undefined>;
  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  stop(): Promise<void>;
  /** Sends `signal` (SIGKILL for a crash test) and resolves once the process has exited; not a failure. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

// A failed test or an uncaught error must not leave etcd or an apiserver behind holding ports and CPU.
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

/** The last `lines` lines of a component's log, for error messages. */
export async function logTail(logPath: string, lines = 30): Promise<string> {
  const text = await readFile(logPath, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export interface ProcessOptions {
  logPath: string;
  /** Extra environment variables on top of this process's. */
  env?: Record<string, string>;
}

export function startProcess(name: string, command: string, args: string[], options: ProcessOptions): ComponentProcess {
  killAllOnExit();
  const { logPath } = options;
  const log = openSync(logPath, "a");
  const child = spawn(command, args, { stdio: ["ignore", log, log], env: { ...process.env, ...options.env } });
  closeSync(log);
  running.add(child);
  let stopping = false;
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    const finish = (reason: string): void => {
      running.delete(child);
      exit ??= reason;
      resolve();
    };
    child.on("error", (error) => finish(`could not start: ${error.message}`));
    child.on("exit", (code, signal) => finish(`exited with ${signal ?? `code ${code}`}`));
  });

  return {
    name,
    logPath,
    async failure() {
      if (exit === undefined || stopping) return undefined;
      return `${name} ${exit}; last lines of ${logPath}:\n${await logTail(logPath)}`;
    },
    async stop() {
      stopping = true;
      if (exit !== undefined) return;
      child.kill("SIGTERM");
      // Unref'd: the grace timer must not hold the Node process open after the component has already exited.
      const graceful = await Promise.race([exited.then(() => true), sleep(10_000, false, { ref: false })]);
      if (!graceful) child.kill("SIGKILL");
      await exited;
    },
    async kill(signal) {
      stopping = true;
      if (exit === undefined) child.kill(signal);
      await exited;
    },
  };
}

/** Runs a short command (ip, ctr, umount …) to completion; rejects with its stderr when it fails. */
export function runCommand(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || error.message}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}

export interface WaitOptions {
  timeoutMs: number;
  /** Processes whose unexpected exit ends the wait at once, with their log. */
  processes: ComponentProcess[];
}

/** Polls `check` until it returns true; fails fast if a watched process dies, and fails after `timeoutMs`. */
export async function waitUntil(description: string, check: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = "";
  for (;;) {
    for (const process of options.processes) {
      const failure = await process.failure();
      if (failure) throw new Error(`while waiting for ${description}: ${failure}`);
    }
    try {
      if (await check()) return;
      lastError = "";
    } catch (error) {
      lastError = ` (last error: ${(error as Error).message})`;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${options.timeoutMs / 1000}s waiting for ${description}${lastError}`);
    }
    await sleep(200);
  }
}
