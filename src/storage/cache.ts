// The watch cache (k8s.io/apiserver's Cacher): every object under one prefix held in memory, kept current by a
// single watch on the backend, plus a ring of recent events. Reads at the newest revision and watches are served
// from memory; writes and older reads go to the backend.
import type { KubeObject } from '../api/meta.ts';
import { Backoff, type BackoffOptions } from '../util/backoff.ts';
import {
  StorageError,
  type ListOptions,
  type ListResult,
  type Storage,
  type StorageEvent,
  type Watcher,
} from './interface.ts';
import { directoryPrefix, prefixEnd } from './prefix.ts';
import { resyncEvents } from './resync.ts';
import {
  reportWatchError,
  WatcherIndex,
  WatchStream,
  type FallibleWatchStorage,
  type WatchErrorHandler,
} from './watch.ts';

export interface WatchCacheOptions {
  /** The keys held in memory, normally one resource's (`/strongroom.dev/databases/`). Default '/'. */
  prefix?: string;
  /**
   * The key of a listed object, for a backend whose lists carry no `keys` (SqliteStorage's do). Default: prefix +
   * `<namespace>/<name>`, or prefix + `<name>` for cluster-scoped objects, which is right only when the prefix is
   * one resource's.
   */
  keyOf?: (obj: KubeObject) => string;
  /** Recent events kept for watches that resume from an older revision. Default 10,000. */
  capacity?: number;
  /** Revisions whose full sorted list stays in memory for paginated reads (continue tokens). Default 16. */
  snapshots?: number;
  onWatchError?: WatchErrorHandler;
  /** Told when the backend's watch breaks and when a relist fails (the cache lists again, backing off). */
  onResyncError?: (error: unknown) => void;
}

/** The objects under a prefix at `revision`, sorted by key; `keys[i]` is the key of `items[i]`. */
export interface SortedList {
  keys: readonly string[];
  items: readonly KubeObject[];
  revision: number;
}

const REPLAY_BATCH = 500;
const RELIST_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10_000 };

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

/** The first index whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function slicePrefix(list: SortedList, prefix: string): SortedList {
  const from = lowerBound(list.keys, prefix);
  const to = lowerBound(list.keys, prefixEnd(prefix));
  if (from === 0 && to === list.keys.length) return list;
  return { keys: list.keys.slice(from, to), items: list.items.slice(from, to), revision: list.revision };
}

/**
 * Keys in order with their objects. The arrays are copied on write once handed out, so a reader's list never changes
 * under it and an unchanged list is handed out again without copying.
 */
class SortedObjects {
  private keys: string[] = [];
  private items: KubeObject[] = [];
  private shared = false;

  load(keys: string[], items: KubeObject[]): void {
    this.keys = keys;
    this.items = items;
    this.shared = false;
  }

  view(revision: number): SortedList {
    this.shared = true;
    return { keys: this.keys, items: this.items, revision };
  }

  set(key: string, obj: KubeObject): void {
    const i = lowerBound(this.keys, key);
    this.own();
    if (this.keys[i] === key) {
      this.items[i] = obj;
    } else {
      this.keys.splice(i, 0, key);
      this.items.splice(i, 0, obj);
    }
  }

  remove(key: string): void {
    const i = lowerBound(this.keys, key);
    if (this.keys[i] !== key) return;
    this.own();
    this.keys.splice(i, 1);
    this.items.splice(i, 1);
  }

  private own(): void {
    if (!this.shared) return;
    this.keys = this.keys.slice();
    this.items = this.items.slice();
    this.shared = false;
  }
}

/** The newest events in revision order; every event above `floor` is held. */
class EventRing {
  floor: number;
  private readonly buffer: StorageEvent[] = [];
  private readonly capacity: number;
  private start = 0;

  constructor(capacity: number, floor: number) {
    this.capacity = capacity;
    this.floor = floor;
  }

  push(event: StorageEvent): void {
    if (this.buffer.length < this.capacity) {
      this.buffer.push(event);
      return;
    }
    this.floor = this.buffer[this.start].revision;
    this.buffer[this.start] = event;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The held events under `prefix` with revision > `revision`, oldest first. */
  since(revision: number, prefix: string): StorageEvent[] {
    const n = this.buffer.length;
    const at = (i: number): StorageEvent => this.buffer[(this.start + i) % n];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (at(mid).revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    const events: StorageEvent[] = [];
    for (let i = lo; i < n; i++) if (at(i).key.startsWith(prefix)) events.push(at(i));
    return events;
  }
}

interface RevisionWaiter {
  revision: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A Storage decorator that serves the newest state and watches from memory.
 *
 * Objects handed out by reads and watches are deep-frozen and shared by every caller: clone them
 * (`structuredClone`) before modifying. Objects returned by writes come from the backend and belong to the caller.
 * Keys outside the cached prefix pass through to the backend. The cache does not own the backend: `close` stops the
 * cache's watches and leaves the backend open.
 *
 * When the backend's watch breaks (etcd's can: its history compacted under a lagging watch), the cache lists again
 * and hands its watchers the difference as events (see resync.ts), so its own watches never break.
 */
export class WatchCache implements Storage {
  /** Settles when the initial list is loaded; until then every call fails with `Unavailable`. */
  readonly ready: Promise<void>;
  private readonly backend: FallibleWatchStorage;
  private readonly root: string;
  private readonly keyOf: (obj: KubeObject) => string;
  private readonly capacity: number;
  private readonly snapshotLimit: number;
  private readonly onWatchError: WatchErrorHandler;
  private readonly onResyncError: (error: unknown) => void;
  private readonly objects = new Map<string, KubeObject>();
  private readonly sorted = new SortedObjects();
  /** Lists handed out at past revisions, oldest first, for continue tokens. */
  private readonly snapshots = new Map<number, SortedList>();
  private readonly index = new WatcherIndex();
  /** Watches that resumed from before the ring and so read the backend's history directly. */
  private readonly passthrough = new Set<Watcher>();
  private waiters: RevisionWaiter[] = [];
  private ring: EventRing | undefined;
  private upstream: Watcher | undefined;
  private revision = 0;
  private closed = false;

  constructor(backend: FallibleWatchStorage, options: WatchCacheOptions = {}) {
    this.backend = backend;
    this.root = directoryPrefix(options.prefix ?? '/');
    this.keyOf =
      options.keyOf ??
      ((obj) => `${this.root}${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`);
    this.capacity = options.capacity ?? 10_000;
    this.snapshotLimit = options.snapshots ?? 16;
    this.onWatchError = options.onWatchError ?? reportWatchError;
    this.onResyncError =
      options.onResyncError ?? ((error) => process.emitWarning(`watch cache of ${this.root}: ${String(error)}`));
    this.ready = this.load();
    // Callers learn of a failed load from `ready` or `isReady`; nobody awaiting it must not crash the process.
    this.ready.catch(() => {});
  }

  isReady(): boolean {
    return this.ring !== undefined && !this.closed;
  }

  currentRevision(): number {
    return this.revision;
  }

  compactedRevision(): number {
    return this.backend.compactedRevision();
  }

  async get(key: string): Promise<KubeObject | undefined> {
    if (!this.holds(key)) return this.backend.get(key);
    this.assertReady(key);
    return this.objects.get(key);
  }

  /** From memory at the newest revision or a snapshot one; other revisions are read from the backend. */
  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    const sorted = this.listSorted(prefix, options.revision);
    if (!sorted) return this.backend.list(prefix, options);
    return { items: sorted.items.slice(), revision: sorted.revision };
  }

  /**
   * The objects under `prefix`, sorted, without copying them: at the newest revision when `revision` is absent,
   * else at a revision whose list was handed out recently. Undefined when memory cannot answer (list the backend).
   * The arrays are shared and must not be modified.
   */
  listSorted(prefix: string, revision?: number): SortedList | undefined {
    const dir = directoryPrefix(prefix);
    if (!this.holds(dir)) return undefined;
    this.assertReady(dir);
    let list: SortedList | undefined;
    if (revision === undefined || revision === this.revision) {
      list = this.sorted.view(this.revision);
      this.keepSnapshot(list);
    } else {
      list = this.snapshots.get(revision);
    }
    return list && slicePrefix(list, dir);
  }

  async create(key: string, obj: KubeObject): Promise<KubeObject> {
    this.assertReady(key);
    return this.applied(key, await this.backend.create(key, obj));
  }

  async update(key: string, obj: KubeObject, expectedRevision: number): Promise<KubeObject> {
    this.assertReady(key);
    return this.applied(key, await this.backend.update(key, obj, expectedRevision));
  }

  async delete(key: string, expectedRevision: number): Promise<KubeObject> {
    this.assertReady(key);
    return this.applied(key, await this.backend.delete(key, expectedRevision));
  }

  /**
   * Replays the ring's events after `fromRevision`, then delivers live ones. A revision older than the ring is
   * served from the backend's history (`Expired` if the backend has compacted it).
   */
  watch(prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void): Watcher {
    const dir = directoryPrefix(prefix);
    if (!this.holds(dir)) return this.backend.watch(dir, fromRevision, onEvent);
    this.assertReady(dir);
    const ring = this.ring as EventRing;
    if (fromRevision < ring.floor) return this.watchBackend(dir, fromRevision, onEvent);
    const stream = new WatchStream(this.index, dir, fromRevision, onEvent, this.onWatchError);
    const backlog = ring.since(fromRevision, dir);
    if (backlog.length > 0) {
      let next = 0;
      stream.replay(() => backlog.slice(next, (next += REPLAY_BATCH)));
    }
    return stream;
  }

  async compact(revision: number): Promise<void> {
    return this.backend.compact(revision);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.upstream?.stop();
    for (const stream of this.index.streams()) stream.stop();
    for (const watcher of this.passthrough) watcher.stop();
    const error = new StorageError('Unavailable', '', 'the watch cache is closed');
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters = [];
  }

  private async load(): Promise<void> {
    const list: ListResult & { keys?: unknown } = await this.backend.list(this.root);
    if (this.closed) return;
    const entries = this.entries(list);
    for (const [key, obj] of entries) this.objects.set(key, obj);
    this.sorted.load(
      entries.map(([key]) => key),
      entries.map(([, obj]) => obj),
    );
    this.revision = list.revision;
    this.ring = new EventRing(this.capacity, list.revision);
    this.follow(list.revision);
  }

  /** A list's objects, frozen, with their keys, sorted in JavaScript's order, which the binary searches use. */
  private entries(list: ListResult & { keys?: unknown }): [string, KubeObject][] {
    // ListResult names no keys; a backend that lists them beside the items (SqliteStorage) saves guessing them.
    const keys = Array.isArray(list.keys) ? (list.keys as string[]) : list.items.map((obj) => this.keyOf(obj));
    const entries = list.items.map((obj, i): [string, KubeObject] => {
      deepFreeze(obj);
      return [keys[i], obj];
    });
    // SQLite's and etcd's byte order differs from JavaScript's beyond ASCII.
    return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private follow(revision: number): void {
    this.upstream = this.backend.watch(
      this.root,
      revision,
      (event) => this.apply(event),
      (error) => void this.resync(error),
    );
  }

  /**
   * The backend's watch broke: list again (backing off while the backend is unavailable), apply the difference as
   * events — memory, ring and every watcher move on together — and watch from the list's revision. Reads meanwhile
   * are served from the state before the break; writes wait for it to be caught up, as they wait for any event.
   */
  private async resync(cause: unknown): Promise<void> {
    this.onResyncError(cause);
    this.upstream = undefined;
    const backoff = new Backoff(RELIST_BACKOFF);
    while (!this.closed) {
      let list: ListResult & { keys?: unknown };
      try {
        list = await this.backend.list(this.root);
      } catch (error) {
        this.onResyncError(error);
        await new Promise((resolve) => setTimeout(resolve, backoff.next()).unref());
        continue;
      }
      if (this.closed) return;
      for (const event of resyncEvents(this.objects, new Map(this.entries(list)), this.revision, list.revision)) {
        this.apply(event);
      }
      // The list may be newer than its newest object: other keys move a shared revision.
      this.revision = Math.max(this.revision, list.revision);
      this.wake();
      this.follow(this.revision);
      return;
    }
  }

  private apply(event: StorageEvent): void {
    deepFreeze(event.object);
    deepFreeze(event.prevObject);
    if (event.type === 'DELETED') {
      this.objects.delete(event.key);
      this.sorted.remove(event.key);
    } else {
      this.objects.set(event.key, event.object);
      this.sorted.set(event.key, event.object);
    }
    this.revision = event.revision;
    (this.ring as EventRing).push(event);
    this.index.deliver(event);
    if (this.waiters.length > 0) this.wake();
  }

  /** Read-your-writes: a write resolves only once its event is in memory. */
  private async applied(key: string, written: KubeObject): Promise<KubeObject> {
    const revision = Number(written.metadata.resourceVersion);
    if (this.holds(key) && this.revision < revision) {
      await new Promise<void>((resolve, reject) => this.waiters.push({ revision, resolve, reject }));
    }
    return written;
  }

  private wake(): void {
    const waiting: RevisionWaiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.revision <= this.revision) waiter.resolve();
      else waiting.push(waiter);
    }
    this.waiters = waiting;
  }

  private watchBackend(prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void): Watcher {
    const watcher = this.backend.watch(prefix, fromRevision, onEvent);
    this.passthrough.add(watcher);
    return {
      stop: () => {
        watcher.stop();
        this.passthrough.delete(watcher);
      },
    };
  }

  private keepSnapshot(list: SortedList): void {
    this.snapshots.delete(list.revision);
    this.snapshots.set(list.revision, list);
    if (this.snapshots.size > this.snapshotLimit) this.snapshots.delete(this.snapshots.keys().next().value as number);
  }

  private holds(key: string): boolean {
    return key.startsWith(this.root);
  }

  private assertReady(key: string): void {
    if (this.closed) throw new StorageError('Unavailable', key, 'the watch cache is closed');
    if (!this.ring) throw new StorageError('Unavailable', key, 'the watch cache is still loading');
  }
}
