// Restart delays for watches and leader-election retries: exponential growth to a cap, with a random part taken off
// so that many informers failing together (an apiserver restart) do not all come back in the same instant.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Up to this fraction of each delay is taken off at random (0 = none). Default 0.5. */
  jitter?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.initialMs = options.initialMs;
    this.maxMs = options.maxMs;
    this.jitter = options.jitter ?? 0.5;
    this.random = random;
  }

  /** The delay before the next attempt; each call doubles the next one, up to the cap. */
  next(): number {
    const delay = Math.min(this.initialMs * 2 ** this.attempt, this.maxMs);
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
