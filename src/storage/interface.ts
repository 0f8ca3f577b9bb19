// One storage interface for every backend. Keys look like `/strongroom.dev/databases/<namespace>/<name>`
// (cluster-scoped objects omit the namespace segment). The store's revision is the objects' resourceVersion.
import type { KubeObject } from '../api/meta.ts';

export type StorageErrorCode =
  | 'NotFound'
  | 'AlreadyExists'
  /** The object's revision is not the one the caller expected. */
  | 'Conflict'
  /** The revision asked for has been compacted away. */
  | 'Expired'
  /** The revision asked for is newer than the store has reached. */
  | 'TooLargeResourceVersion'
  | 'Unavailable';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly key: string;
  /** For Expired / TooLargeResourceVersion: the store's current revision. */
  readonly currentRevision: number | undefined;

  constructor(code: StorageErrorCode, key: string, message: string, currentRevision?: number) {
    super(message);
    this.name = 'StorageError';
    this.code = code;
    this.key = key;
    this.currentRevision = currentRevision;
  }
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StorageEvent {
  type: EventType;
  key: string;
  /** The object after the change; for DELETED the last state, with the deletion's revision as resourceVersion. */
  object: KubeObject;
  /** The previous state, for MODIFIED and DELETED (selector watches need it to send ADDED/DELETED on transitions). */
  prevObject?: KubeObject;
  revision: number;
}

export interface ListResult {
  items: KubeObject[];
  /** The revision the list is consistent at. */
  revision: number;
}

export interface ListOptions {
  /** Read the state as of this revision (Exact); absent means the newest state. */
  revision?: number;
}

export interface Watcher {
  stop(): void;
}

export interface Storage {
  /** The newest revision written (0 for an empty store). */
  currentRevision(): number;
  /** The oldest revision still readable; lists and watches older than this get `Expired`. */
  compactedRevision(): number;
  get(key: string): Promise<KubeObject | undefined>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string, options?: ListOptions): Promise<ListResult>;
  /** Stores a new object; `AlreadyExists` if the key is taken. Returns it with resourceVersion set. */
  create(key: string, obj: KubeObject): Promise<KubeObject>;
  /** Replaces the object only if its current revision is `expectedRevision` (`Conflict` otherwise). */
  update(key: string, obj: KubeObject, expectedRevision: number): Promise<KubeObject>;
  /** Deletes only if the current revision is `expectedRevision`; returns the last state with the new revision. */
  delete(key: string, expectedRevision: number): Promise<KubeObject>;
  /**
   * Calls `onEvent` for every change to keys under `prefix` with revision > `fromRevision`, in revision order,
   * first replaying the history the store still holds. `Expired` if `fromRevision` is below the compacted revision.
   */
  watch(prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void): Watcher;
  /** Drops history up to `revision`. */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}
