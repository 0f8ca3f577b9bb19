// The one backoff of the project: watch and informer restarts, leader-election retries, the storage backends'
// reconnects, the delegated reviews and the agent's final report. Exponential growth to a cap, with a random part taken
// off so that many clients failing together (an apiserver restart) do not all come back in the same instant.

export interface BackoffOptions {
  initialMs: number;
  /** The longest delay (default: no cap). */
  maxMs?: number;
  /** Each delay is the previous one times this (default 2). */
  factor?: number;
  /** Up to this fraction of each delay is taken off at random (0 = none). Default 0.5. */
  jitter?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.initialMs = options.initialMs;
    this.maxMs = options.maxMs ?? Number.POSITIVE_INFINITY;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.5;
    this.random = random;
  }

  /** The delay before the next attempt; each call grows the next one by the factor, up to the cap. */
  next(): number {
    const delay = Math.min(this.initialMs * this.factor ** this.attempt, this.maxMs);
    this.attempt++;
    return delay * (1 - this.jitter * this.random());
  }

  /** After a success: the next failure starts from the initial delay again. */
  reset(): void {
    this.attempt = 0;
  }
}

/** Waits `ms`, or less when `signal` aborts first; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryOptions {
  backoff: BackoffOptions;
  /** Attempts in all, the first included. */
  attempts: number;
  /** Whether a failure is worth another attempt (default: every failure is). */
  retryable?: (error: unknown) => boolean;
}

/** Calls `call` until it succeeds, fails for good, or the attempts run out; the last error is thrown. */
export async function retry<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const backoff = new Backoff(options.backoff);
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= options.attempts || !(options.retryable?.(error) ?? true)) throw error;
      await sleep(backoff.next());
    }
  }
}
