// Watch fan-out shared by the storage backends and the watch cache: one stream per watcher, indexed by prefix.
import type { Storage, StorageError, StorageEvent, Watcher } from './interface.ts';

/** Told when a watcher's callback throws; the event still reaches every other watcher. */
export type WatchErrorHandler = (error: unknown, event: StorageEvent) => void;

/**
 * Told once when a started watch can go on no longer: `Expired` when the history it had still to deliver was compacted
 * under it, `Unavailable` when the store stayed out of reach. The watch has stopped; list again and watch anew.
 */
export type WatchFailureHandler = (error: StorageError) => void;

/**
 * A Storage whose watches can fail after they have started (etcd's can; SQLite's, fed in process, never do) and
 * says so to the `onFailure` a caller passes. Storage's own `watch` has no way to say it.
 */
export interface FallibleWatchStorage extends Storage {
  watch(prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void, onFailure?: WatchFailureHandler): Watcher;
}

/** The next events after `afterRevision`, oldest first; an empty batch means the history has been replayed. */
export type History = (afterRevision: number) => StorageEvent[];

export const reportWatchError: WatchErrorHandler = (error, event) => {
  process.emitWarning(`storage watcher failed on ${event.type} ${event.key} at revision ${event.revision}: ${String(error)}`);
};

/**
 * One watcher. While it replays history it queues live events; the cursor (the last revision delivered) then drops
 * whatever the replay already delivered, so the hand-over from history to live events can neither skip nor repeat.
 */
export class WatchStream implements Watcher {
  readonly prefix: string;
  private readonly index: WatcherIndex;
  private readonly onEvent: (event: StorageEvent) => void;
  private readonly onError: WatchErrorHandler;
  private cursor: number;
  /** Live events that arrived during the replay; undefined once the stream is live. */
  private pending: StorageEvent[] | undefined;
  private stopped = false;

  constructor(index: WatcherIndex, prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void, onError: WatchErrorHandler) {
    this.index = index;
    this.prefix = prefix;
    this.cursor = fromRevision;
    this.onEvent = onEvent;
    this.onError = onError;
    index.add(this);
  }

  /** The revision a replaying stream has reached (history above it must stay readable); undefined once live. */
  replayPosition(): number | undefined {
    return this.pending ? this.cursor : undefined;
  }

  /**
   * Replays `history` one batch per turn of the event loop, so a long replay neither blocks the process nor starts
   * before `watch` has handed the caller its Watcher.
   */
  replay(history: History): void {
    this.pending = [];
    const step = (): void => {
      if (this.stopped) return;
      const batch = history(this.cursor);
      if (batch.length > 0) {
        for (const event of batch) if (!this.stopped && event.revision > this.cursor) this.emit(event);
        setImmediate(step);
        return;
      }
      // A callback may write, queueing more events while this loop runs: the loop reads the array's growing length.
      const pending = this.pending ?? [];
      for (let i = 0; i < pending.length && !this.stopped; i++) {
        if (pending[i].revision > this.cursor) this.emit(pending[i]);
      }
      this.pending = undefined;
    };
    setImmediate(step);
  }

  push(event: StorageEvent): void {
    if (this.stopped || event.revision <= this.cursor) return;
    if (this.pending) this.pending.push(event);
    else this.emit(event);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pending = undefined;
    this.index.remove(this);
  }

  private emit(event: StorageEvent): void {
    this.cursor = event.revision;
    try {
      this.onEvent(event);
    } catch (error) {
      this.onError(error, event);
    }
  }
}

/**
 * Streams by prefix. Every prefix ends in '/', so an event reaches its watchers through one map lookup per '/' in
 * its key, however many watchers there are.
 */
export class WatcherIndex {
  private readonly byPrefix = new Map<string, Set<WatchStream>>();
  private queue: StorageEvent[] = [];
  private delivering = false;

  add(stream: WatchStream): void {
    let streams = this.byPrefix.get(stream.prefix);
    if (!streams) this.byPrefix.set(stream.prefix, (streams = new Set()));
    streams.add(stream);
  }

  remove(stream: WatchStream): void {
    const streams = this.byPrefix.get(stream.prefix);
    if (streams?.delete(stream) && streams.size === 0) this.byPrefix.delete(stream.prefix);
  }

  streams(): WatchStream[] {
    return [...this.byPrefix.values()].flatMap((streams) => [...streams]);
  }

  /** Whether any watcher would see a change to `key` (so a writer can skip building the event). */
  watches(key: string): boolean {
    if (this.byPrefix.size === 0) return false;
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      if (this.byPrefix.has(key.slice(0, slash + 1))) return true;
    }
    return false;
  }

  /**
   * Hands `event` to its watchers. A callback that writes re-enters here; its event waits in the queue until the
   * current one has reached everyone, so each watcher still sees revision order.
   */
  deliver(event: StorageEvent): void {
    this.queue.push(event);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let i = 0; i < this.queue.length; i++) this.fanOut(this.queue[i]);
    } finally {
      this.queue = [];
      this.delivering = false;
    }
  }

  private fanOut(event: StorageEvent): void {
    const key = event.key;
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      const streams = this.byPrefix.get(key.slice(0, slash + 1));
      if (streams) for (const stream of streams) stream.push(event);
    }
  }
}
