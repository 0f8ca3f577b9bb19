// A work queue with client-go's semantics (util/workqueue: Typed, delaying and rate-limiting queues in one):
//
// - a key waits in the queue at most once however often it is added (the dirty set);
// - a key is handed to one worker at a time (the processing set); adding it while it is processed marks it dirty,
//   and `done` puts it back, so the change that arrived meanwhile is never lost and never handled concurrently;
// - `addAfter` holds a key back (the earliest of several requested times wins); `addRateLimited` holds it back as
//   long as the rate limiter says, which grows with each failure until `forget`.
//
// Unlike client-go's ShutDown, shutting down does not drain: `get` answers undefined at once, so a controller stops
// after its in-flight reconciles rather than after everything queued.
import { MAX_TIMER_MS, realClock, type Clock, type TimerHandle } from './clock.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimiter.ts';

export interface WorkQueueOptions {
  clock?: Clock;
  /** Default: `defaultControllerRateLimiter` on the same clock. */
  rateLimiter?: RateLimiter;
}

interface Waiting {
  readyAt: number;
  timer: TimerHandle;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;
  /** Keys ready for a worker, in order; `head` is the next one (avoids Array.shift's O(n)). */
  private queue: string[] = [];
  private head = 0;
  /** Keys that need processing: queued, or added again while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  private getters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(this.clock);
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  /** Adds `key` once `ms` have passed; a key already waiting keeps the earlier of the two times. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const readyAt = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      this.clock.clearTimeout(existing.timer);
    }
    this.arm(key, readyAt);
  }

  /** Adds `key` after the rate limiter's delay, which counts this as another failure of `key`. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** `key` succeeded: its backoff starts over. Does not remove it from the queue. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting until there is one; undefined once the queue is shut down. The caller owns the
   * key until it calls `done(key)`.
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.head < this.queue.length) {
      const key = this.queue[this.head++];
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve(this.take(key));
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Processing of `key` has finished; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.enqueue(key);
  }

  /** Keys ready for a worker (not counting those processed or waiting for their time). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Drops what is queued and waiting, refuses new keys, and answers every `get` with undefined. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) this.clock.clearTimeout(timer);
    this.waiting.clear();
    this.queue = [];
    this.head = 0;
    for (const getter of this.getters) getter(undefined);
    this.getters = [];
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private enqueue(key: string): void {
    const getter = this.getters.shift();
    if (getter) getter(this.take(key));
    else this.queue.push(key);
  }

  private take(key: string): string {
    this.processing.add(key);
    this.dirty.delete(key);
    return key;
  }

  private arm(key: string, readyAt: number): void {
    const delay = Math.min(readyAt - this.clock.now(), MAX_TIMER_MS);
    const timer = this.clock.setTimeout(() => {
      if (this.clock.now() < readyAt) return this.arm(key, readyAt);
      this.waiting.delete(key);
      this.add(key);
    }, delay);
    this.waiting.set(key, { readyAt, timer });
  }
}
