// The embedded store: a kine-style revision log in SQLite (k3s-io/kine). Every write appends a row whose id is the
// new revision; the `current` table points each live key at its newest row, so reads at the newest revision never
// walk history. One process owns the file: watchers see the writes made through this instance.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { KubeObject } from '../api/meta.ts';
import {
  StorageError,
  type EventType,
  type ListOptions,
  type ListResult,
  type Storage,
  type StorageEvent,
  type Watcher,
} from './interface.ts';
import { startCompactor, type CompactorOptions } from './compactor.ts';
import { directoryPrefix, prefixEnd } from './prefix.ts';
import { reportWatchError, WatcherIndex, WatchStream, type WatchErrorHandler } from './watch.ts';

export interface SqliteStorageOptions {
  onWatchError?: WatchErrorHandler;
  /** Rows a watch reads from history per turn of the event loop while it catches up. */
  replayBatchSize?: number;
  /** How long a write waits for another connection's lock before failing with `Unavailable`. */
  busyTimeoutMs?: number;
}

// UNIQUE(key, prev_revision): two writers that both read revision N of a key cannot both append its successor.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS kine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value TEXT NOT NULL,
  UNIQUE (key, prev_revision)
);
CREATE INDEX IF NOT EXISTS kine_key_id ON kine (key, id);
CREATE TABLE IF NOT EXISTS current (key TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

const COMPACT_REVISION = 'compact_revision';

interface LiveRow {
  id: number;
  value: string;
}

interface PendingWrite {
  key: string;
  decide: () => Change;
  resolve: (obj: KubeObject) => void;
  reject: (error: unknown) => void;
}

interface Committed {
  key: string;
  change: Change;
  revision: number;
  value: string;
}

interface HistoryRow {
  id: number;
  key: string;
  created: number;
  deleted: number;
  value: string;
  prev_value: string | null;
}

/** What a write appends, decided inside its transaction from what the key holds there. */
interface Change {
  type: EventType;
  object: KubeObject;
  /** The row this one succeeds: the live row, or for a create the key's tombstone (0 if none is left). */
  prevRevision: number;
  /** The live state it replaces (for the event's prevObject). */
  prevValue?: string;
}

function prepareStatements(db: DatabaseSync) {
  const s = (sql: string): StatementSync => db.prepare(sql);
  return {
    begin: s('BEGIN IMMEDIATE'),
    commit: s('COMMIT'),
    rollback: s('ROLLBACK'),
    savepoint: s('SAVEPOINT write'),
    rollbackToSavepoint: s('ROLLBACK TO write'),
    releaseSavepoint: s('RELEASE write'),
    lastRevision: s(`SELECT seq FROM sqlite_sequence WHERE name = 'kine'`),
    readMeta: s('SELECT value FROM meta WHERE name = ?'),
    writeMeta: s('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
    live: s('SELECT k.id, k.value FROM current c JOIN kine k ON k.id = c.id WHERE c.key = ?'),
    newest: s('SELECT id FROM kine WHERE key = ? ORDER BY id DESC LIMIT 1'),
    insert: s('INSERT INTO kine (id, key, created, deleted, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)'),
    insertCurrent: s('INSERT INTO current (key, id) VALUES (?, ?)'),
    updateCurrent: s('UPDATE current SET id = ? WHERE key = ?'),
    deleteCurrent: s('DELETE FROM current WHERE key = ?'),
    listLive: asArrays(s('SELECT c.key, k.value FROM current c JOIN kine k ON k.id = c.id WHERE c.key >= ? AND c.key < ? ORDER BY c.key')),
    listAt: asArrays(
      s(`SELECT k.key, k.value FROM (
           SELECT MAX(id) AS id FROM kine WHERE key >= ? AND key < ? AND id <= ? GROUP BY key
         ) newest JOIN kine k ON k.id = newest.id
         WHERE k.deleted = 0 ORDER BY k.key`),
    ),
    history: s(`
      SELECT k.id, k.key, k.created, k.deleted, k.value, p.value AS prev_value
      FROM kine k LEFT JOIN kine p ON p.id = k.prev_revision AND k.created = 0
      WHERE k.id > ? AND k.id <= ? AND k.key >= ? AND k.key < ?
      ORDER BY k.id LIMIT ?`),
    // A row is superseded once its successor (the row naming it as prev_revision) is at or below the horizon;
    // successors at or below the previous horizon were handled by the previous compaction.
    deleteSuperseded: s('DELETE FROM kine WHERE id IN (SELECT prev_revision FROM kine WHERE id > ? AND id <= ?)'),
    deleteTombstones: s('DELETE FROM kine WHERE deleted = 1 AND id > ? AND id <= ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Rows of a list read as arrays: building an object per row costs more than reading the row. */
function asArrays(stmt: StatementSync): StatementSync {
  stmt.setReturnArrays(true);
  return stmt;
}

/** A list with each item's key, which the watch cache needs to load (see WatchCache). */
export interface KeyedListResult extends ListResult {
  keys: string[];
}

function keyedList(rows: unknown[], revision: number): KeyedListResult {
  const keys: string[] = [];
  const items: KubeObject[] = [];
  for (const [key, value] of rows as [string, string][]) {
    keys.push(key);
    items.push(JSON.parse(value) as KubeObject);
  }
  return { keys, items, revision };
}

function historyEvent(row: HistoryRow): StorageEvent {
  const event: StorageEvent = {
    type: row.deleted ? 'DELETED' : row.created ? 'ADDED' : 'MODIFIED',
    key: row.key,
    object: JSON.parse(row.value) as KubeObject,
    revision: row.id,
  };
  if (row.prev_value !== null) event.prevObject = JSON.parse(row.prev_value) as KubeObject;
  return event;
}

function sqliteErrorCode(error: unknown): number | undefined {
  const errcode = (error as { errcode?: unknown }).errcode;
  return typeof errcode === 'number' ? errcode & 0xff : undefined;
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT = 19;

function asStorageError(error: unknown, key: string): unknown {
  if (error instanceof StorageError) return error;
  switch (sqliteErrorCode(error)) {
    case SQLITE_CONSTRAINT:
      return new StorageError('Conflict', key, `${key} was changed by another writer`);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new StorageError('Unavailable', key, `the database is locked by another writer: ${String(error)}`);
    default:
      return error;
  }
}

/**
 * Objects returned by reads and writes belong to the caller. An event's objects are shared by every watcher of this
 * store and must not be modified.
 */
export class SqliteStorage implements Storage {
  private readonly db: DatabaseSync;
  private readonly q: Statements;
  private readonly index = new WatcherIndex();
  private readonly onWatchError: WatchErrorHandler;
  private readonly replayBatchSize: number;
  private queue: PendingWrite[] = [];
  private revision: number;
  private compacted: number;
  private closed = false;

  /** Opens (creating if needed) the database at `path`; `':memory:'` for a throw-away store. */
  static open(path: string, options: SqliteStorageOptions = {}): SqliteStorage {
    return new SqliteStorage(path, options);
  }

  private constructor(path: string, options: SqliteStorageOptions) {
    this.db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
    // WAL with synchronous=FULL syncs the log on every commit: an acknowledged write survives a crash of the
    // process and of the machine. NORMAL would lose the last commits on power loss.
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
    this.db.exec(SCHEMA);
    this.q = prepareStatements(this.db);
    this.onWatchError = options.onWatchError ?? reportWatchError;
    this.replayBatchSize = options.replayBatchSize ?? 500;
    this.revision = this.lastRevision();
    this.compacted = (this.q.readMeta.get(COMPACT_REVISION) as { value: number } | undefined)?.value ?? 0;
  }

  currentRevision(): number {
    return this.revision;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  async get(key: string): Promise<KubeObject | undefined> {
    this.assertOpen();
    const row = this.q.live.get(key) as LiveRow | undefined;
    return row && (JSON.parse(row.value) as KubeObject);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<KeyedListResult> {
    this.assertOpen();
    const dir = directoryPrefix(prefix);
    const revision = options.revision ?? this.revision;
    this.assertReadable(dir, revision);
    const rows =
      revision === this.revision
        ? this.q.listLive.all(dir, prefixEnd(dir))
        : this.q.listAt.all(dir, prefixEnd(dir), revision);
    return keyedList(rows, revision);
  }

  async create(key: string, obj: KubeObject): Promise<KubeObject> {
    return this.write(key, () => {
      if (this.q.live.get(key)) throw new StorageError('AlreadyExists', key, `${key} already exists`);
      const tombstone = this.q.newest.get(key) as { id: number } | undefined;
      return { type: 'ADDED', object: obj, prevRevision: tombstone?.id ?? 0 };
    });
  }

  async update(key: string, obj: KubeObject, expectedRevision: number): Promise<KubeObject> {
    return this.write(key, () => {
      const live = this.guard(key, expectedRevision);
      return { type: 'MODIFIED', object: obj, prevRevision: live.id, prevValue: live.value };
    });
  }

  async delete(key: string, expectedRevision: number): Promise<KubeObject> {
    return this.write(key, () => {
      const live = this.guard(key, expectedRevision);
      const last = JSON.parse(live.value) as KubeObject;
      return { type: 'DELETED', object: last, prevRevision: live.id, prevValue: live.value };
    });
  }

  /**
   * Replays the rows after `fromRevision` (in batches, see SqliteStorageOptions.replayBatchSize), then delivers each
   * write through this instance synchronously after its commit. A `fromRevision` above the newest revision simply
   * waits for it.
   */
  watch(prefix: string, fromRevision: number, onEvent: (event: StorageEvent) => void): Watcher {
    this.assertOpen();
    const dir = directoryPrefix(prefix);
    if (fromRevision < this.compacted) throw this.expired(dir, fromRevision);
    const stream = new WatchStream(this.index, dir, fromRevision, onEvent, this.onWatchError);
    if (fromRevision < this.revision) {
      const until = this.revision;
      const end = prefixEnd(dir);
      stream.replay((after) =>
        (this.q.history.all(after, until, dir, end, this.replayBatchSize) as unknown as HistoryRow[]).map(historyEvent),
      );
    }
    return stream;
  }

  /**
   * Drops superseded rows and tombstones at or below `revision` (capped at the newest revision, and at the position
   * of any watch still replaying so its history stays whole). The horizon is stored, so `Expired` outlives restarts.
   */
  async compact(revision: number): Promise<void> {
    this.assertOpen();
    let horizon = Math.min(revision, this.revision);
    for (const stream of this.index.streams()) horizon = Math.min(horizon, stream.replayPosition() ?? horizon);
    if (horizon <= this.compacted) return;
    const from = this.compacted;
    this.transact('', () => {
      this.q.deleteSuperseded.run(from, horizon);
      this.q.deleteTombstones.run(from, horizon);
      this.q.writeMeta.run(COMPACT_REVISION, horizon);
    });
    this.compacted = horizon;
  }

  /** Compacts this store periodically (see compactor.ts); returns the function that stops it. */
  startCompactor(options: CompactorOptions = {}): () => void {
    return startCompactor(this, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const stream of this.index.streams()) stream.stop();
    this.db.close();
  }

  private write(key: string, decide: () => Change): Promise<KubeObject> {
    this.assertOpen();
    return new Promise((resolve, reject) => {
      this.queue.push({ key, decide, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  /**
   * Group commit: the writes queued during one turn of the event loop share one transaction and so one fsync,
   * which is what lets concurrent clients write faster than the disk syncs. Each write has its own savepoint, so
   * one that fails leaves the others in the batch alone; a write sees the writes queued before it.
   */
  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const outcomes: ({ committed: Committed } | { error: unknown })[] = [];
    let revision = this.revision;
    try {
      this.q.begin.run();
      // Inside BEGIN IMMEDIATE no one else can take the next id, so each stored document carries its own revision.
      revision = this.lastRevision();
      for (const write of batch) {
        this.q.savepoint.run();
        try {
          outcomes.push({ committed: this.append(write.key, write.decide(), revision + 1) });
          revision++;
        } catch (error) {
          this.q.rollbackToSavepoint.run();
          outcomes.push({ error: asStorageError(error, write.key) });
        }
        this.q.releaseSavepoint.run();
      }
      this.q.commit.run();
    } catch (error) {
      if (this.db.isTransaction) this.q.rollback.run();
      for (const write of batch) write.reject(asStorageError(error, write.key));
      return;
    }
    // Readers during the events' delivery see the whole batch, so currentRevision names what the tables hold.
    this.revision = revision;
    for (const outcome of outcomes) if ('committed' in outcome) this.publish(outcome.committed);
    batch.forEach((write, i) => {
      const outcome = outcomes[i];
      if ('committed' in outcome) write.resolve(JSON.parse(outcome.committed.value) as KubeObject);
      else write.reject(outcome.error);
    });
  }

  private append(key: string, change: Change, revision: number): Committed {
    const object = { ...change.object, metadata: { ...change.object.metadata, resourceVersion: String(revision) } };
    const value = JSON.stringify(object);
    this.q.insert.run(revision, key, change.type === 'ADDED' ? 1 : 0, change.type === 'DELETED' ? 1 : 0, change.prevRevision, value);
    if (change.type === 'ADDED') this.q.insertCurrent.run(key, revision);
    else if (change.type === 'MODIFIED') this.q.updateCurrent.run(revision, key);
    else this.q.deleteCurrent.run(key);
    return { key, change, revision, value };
  }

  private publish({ key, change, revision, value }: Committed): void {
    if (!this.index.watches(key)) return;
    const event: StorageEvent = { type: change.type, key, object: JSON.parse(value) as KubeObject, revision };
    if (change.prevValue !== undefined) event.prevObject = JSON.parse(change.prevValue) as KubeObject;
    this.index.deliver(event);
  }

  private guard(key: string, expectedRevision: number): LiveRow {
    const live = this.q.live.get(key) as LiveRow | undefined;
    if (!live) throw new StorageError('NotFound', key, `${key} not found`);
    if (live.id !== expectedRevision) {
      throw new StorageError('Conflict', key, `${key} is at revision ${live.id}, not ${expectedRevision}`);
    }
    return live;
  }

  private transact<T>(key: string, body: () => T): T {
    try {
      this.q.begin.run();
      const result = body();
      this.q.commit.run();
      return result;
    } catch (error) {
      if (this.db.isTransaction) this.q.rollback.run();
      throw asStorageError(error, key);
    }
  }

  private lastRevision(): number {
    return (this.q.lastRevision.get() as { seq: number } | undefined)?.seq ?? 0;
  }

  private assertReadable(key: string, revision: number): void {
    if (revision < this.compacted) throw this.expired(key, revision);
    if (revision > this.revision) {
      throw new StorageError(
        'TooLargeResourceVersion',
        key,
        `revision ${revision} is newer than the current revision ${this.revision}`,
        this.revision,
      );
    }
  }

  private expired(key: string, revision: number): StorageError {
    return new StorageError('Expired', key, `revision ${revision} has been compacted; the oldest readable is ${this.compacted}`, this.revision);
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('Unavailable', '', 'the storage is closed');
  }
}
