// Periodic compaction keeps history bounded, as kube-apiserver compacts etcd every five minutes. History is kept
// both by count and by age, so a client that listed a few minutes ago can still watch from its resourceVersion.
import type { Storage } from './interface.ts';

/** What compaction needs of a store; a backend may pass its own `compact` (etcd's takes turns among replicas). */
export type Compactable = Pick<Storage, 'currentRevision' | 'compactedRevision' | 'compact'>;

export interface CompactorOptions {
  /** The newest revisions always kept. Default 10,000. */
  keepRevisions?: number;
  /** History younger than this is always kept. Default five minutes. */
  keepMs?: number;
  /** Default five minutes. */
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

interface Sample {
  at: number;
  revision: number;
}

/** Decides each tick how far to compact: to the newest revision that is both old enough and far enough behind. */
export class Compactor {
  private readonly storage: Compactable;
  private readonly keepRevisions: number;
  private readonly keepMs: number;
  /** The revision seen at each tick, oldest first: when a revision was reached is known only from these. */
  private samples: Sample[] = [];

  constructor(storage: Compactable, options: CompactorOptions = {}) {
    this.storage = storage;
    this.keepRevisions = options.keepRevisions ?? 10_000;
    this.keepMs = options.keepMs ?? 5 * 60_000;
  }

  /** Compacts as far as the policy allows at time `now` (ms); returns the horizon asked for, if any. */
  async tick(now: number): Promise<number | undefined> {
    const current = this.storage.currentRevision();
    this.samples.push({ at: now, revision: current });
    let aged: Sample | undefined;
    while (this.samples.length > 0 && this.samples[0].at <= now - this.keepMs) aged = this.samples.shift();
    // The newest sample old enough stays: it is the horizon until a newer one ages.
    if (aged) this.samples.unshift(aged);
    const horizon = Math.min(aged?.revision ?? 0, current - this.keepRevisions);
    if (horizon <= this.storage.compactedRevision()) return undefined;
    await this.storage.compact(horizon);
    return horizon;
  }
}

/** Starts compacting `storage` every `intervalMs`; returns the function that stops it. */
export function startCompactor(storage: Compactable, options: CompactorOptions = {}): () => void {
  const compactor = new Compactor(storage, options);
  const onError = options.onError ?? ((error: unknown) => process.emitWarning(`storage compaction failed: ${String(error)}`));
  let running = false;
  const run = (): void => {
    if (running) return;
    running = true;
    compactor
      .tick(Date.now())
      .catch(onError)
      .finally(() => (running = false));
  };
  const timer = setInterval(run, options.intervalMs ?? 5 * 60_000);
  timer.unref();
  // Record the starting revision now, so the first compaction waits keepMs, not keepMs plus an interval.
  run();
  return () => clearInterval(timer);
}
