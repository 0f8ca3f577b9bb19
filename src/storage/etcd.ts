// The etcd backend, for several replicas and HA (k8s.io/apiserver's etcd3 store is the model). etcd's MVCC revision is
// the resourceVersion: an object's is its key's mod_revision, so the stored bytes carry none. Writes are transactions
// guarded by the key's create or mod revision, so replicas racing on a key get Conflict, never a lost update; each
// replica's watch cache follows every replica's writes through one etcd watch.
//
// The etcd3 package supplies the connection pool (several endpoints, TLS, retries of transient failures) and the
// generated gRPC clients; requests are built here from its raw KV and Watch clients, whose responses keep what its
// higher-level Watcher drops: compact_revision on a canceled watch, and every header's revision.
import { readFileSync } from 'node:fs';
import {
  Etcd3,
  isRecoverableError,
  type IDuplexStream,
  type IEvent,
  type IKeyValue,
  type IOptions,
  type IRequestOp,
  type IResponseHeader,
  type IWatchRequest,
  type IWatchResponse,
} from 'etcd3';
import type { KubeObject } from '../api/meta.ts';
import { Backoff, sleep } from '../util/backoff.ts';
import { startCompactor, type CompactorOptions } from './compactor.ts';
import { StorageError, type ListOptions, type StorageEvent, type Watcher } from './interface.ts';
import { directoryPrefix, prefixEnd } from './prefix.ts';
import type { KeyedListResult } from './sqlite.ts';
import { reportWatchError, type FallibleWatchStorage, type WatchErrorHandler, type WatchFailureHandler } from './watch.ts';

export interface EtcdStorageOptions {
  /** Client URLs (`https://etcd-0:2379`), all http or all https, as kube-apiserver's --etcd-servers. */
  servers: string[];
  /** Put before every key: `/strongroom.dev/databases/ns/x` is stored at `<prefix>/strongroom.dev/databases/ns/x`. */
  prefix?: string;
  /** PEM files for TLS, as kube-apiserver's --etcd-cafile, --etcd-certfile and --etcd-keyfile (client certificate). */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Deadline of each request. Default 10 s. */
  requestTimeoutMs?: number;
  /** How long `connect` waits for etcd to answer (the pods of a fresh install start together). Default 60 s. */
  connectTimeoutMs?: number;
  /** Keys per range request when listing. Default 1,000. */
  listPageSize?: number;
  onWatchError?: WatchErrorHandler;
  /** Where the failure of a watch started without its own `onFailure` goes. */
  onWatchFailure?: WatchFailureHandler;
}

export const DEFAULT_ETCD_PREFIX = '/registry/strongroom.dev/';

/**
 * kube-apiserver's compaction record, at the same key: etcd compacts its whole keyspace, so every API server sharing
 * one etcd shares one record. Its value is the last compacted revision; its version is the logical clock of the
 * compactors' turns (see compactInTurn).
 */
const COMPACT_KEY = Buffer.from('compact_rev_key');

/** A broken watch stream is reopened this many times in a row (with backoff, about 25 s in all) before it fails. */
const WATCH_RETRIES = 8;
const WATCH_RETRY_BACKOFF = { initialMs: 100, maxMs: 5_000, jitter: 0.2 };

/** The object as stored: without resourceVersion, which is the key's mod_revision and known only once written. */
function encode(obj: KubeObject): Buffer {
  const { resourceVersion, ...metadata } = obj.metadata;
  return Buffer.from(JSON.stringify({ ...obj, metadata }));
}

function decode(value: Buffer, revision: number | string): KubeObject {
  const obj = JSON.parse(value.toString('utf8')) as KubeObject;
  obj.metadata.resourceVersion = String(revision);
  return obj;
}

function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // A host's circuit breaker (cockatiel's) is open after repeated failures, or the client has been closed.
  return isRecoverableError(error) || 'isBrokenCircuitError' in error || error.name === 'ClientClosedError';
}

function clientOptions(options: EtcdStorageOptions): IOptions {
  const { servers, caFile, certFile, keyFile } = options;
  if (servers.length === 0) throw new Error('etcd: no servers given');
  const secure = servers.map((server) => {
    const scheme = /^(https?):\/\//.exec(server)?.[1];
    if (!scheme) throw new Error(`etcd: a server is a http:// or https:// URL, not ${server}`);
    return scheme === 'https';
  });
  if (new Set(secure).size > 1) throw new Error('etcd: the servers are either all http:// or all https://');
  if (Boolean(certFile) !== Boolean(keyFile)) throw new Error('etcd: a client certificate needs both its cert file and key file');
  if ((caFile || certFile) && !secure[0]) throw new Error('etcd: TLS files are for https:// servers');
  if (certFile && !caFile) throw new Error("etcd: a client certificate needs the CA file that verifies etcd's certificate");
  const timeout = options.requestTimeoutMs ?? 10_000;
  return {
    hosts: servers,
    credentials: caFile
      ? {
          rootCertificate: readFileSync(caFile),
          certChain: certFile ? readFileSync(certFile) : undefined,
          privateKey: keyFile ? readFileSync(keyFile) : undefined,
        }
      : undefined,
    grpcOptions: {
      // A list page or a watch batch of large objects can exceed gRPC's 4 MiB default; etcd is trusted.
      'grpc.max_receive_message_length': -1,
      // A dead connection is noticed within 40 s even when a watch is idle (kube-apiserver's settings).
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    },
    // Watches are long-lived; every other call has a deadline, so a black-holed etcd surfaces as Unavailable.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
  };
}

/** What a watch asks etcd for; the stream adds where to start. */
interface WatchRange {
  key: Buffer;
  range_end?: Buffer;
  prev_kv: boolean;
}

interface RawWatchHandler {
  /** One event after the watch's cursor; throws a StorageError when the event cannot be delivered whole. */
  event(event: IEvent): void;
  header(header: IResponseHeader): void;
  failure(error: StorageError): void;
}

/**
 * One etcd watch on its own gRPC stream, resumed after the last revision it delivered whenever the stream breaks. It
 * fails (once) when etcd cancels it — with compact_revision set when its history was compacted; etcd cancels a watch
 * for nothing else this code asks for, so any cancel is taken as Expired — or when the stream keeps breaking.
 */
class EtcdWatch implements Watcher {
  private readonly client: Etcd3;
  /** What failures name: the storage prefix watched. */
  private readonly name: string;
  private readonly request: WatchRange;
  private readonly handler: RawWatchHandler;
  /** The last revision delivered (or known to hold nothing for this watch). */
  private cursor: number;
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  private retries = 0;
  private readonly retryBackoff = new Backoff(WATCH_RETRY_BACKOFF);
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(client: Etcd3, name: string, request: WatchRange, fromRevision: number, handler: RawWatchHandler) {
    this.client = client;
    this.name = name;
    this.request = request;
    this.cursor = fromRevision;
    this.handler = handler;
    void this.open();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }

  private async open(): Promise<void> {
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.client.watchClient.watch();
    } catch (error) {
      this.retry(error);
      return;
    }
    if (this.stopped) {
      stream.on('error', () => {}).cancel();
      return;
    }
    this.stream = stream;
    // Listeners outlive the stream's turn (a cancelled call still reports CANCELLED): they act only while it is current.
    stream
      .on('data', (response) => stream === this.stream && this.receive(response))
      .on('error', (error) => stream === this.stream && this.retry(error))
      .on('end', () => stream === this.stream && this.retry(new Error('the watch stream ended')));
    stream.write({ create_request: { ...this.request, start_revision: this.cursor + 1, progress_notify: true } });
  }

  private receive(response: IWatchResponse): void {
    this.handler.header(response.header);
    if (response.canceled) {
      const compacted = Number(response.compact_revision);
      this.fail(
        new StorageError(
          'Expired',
          this.name,
          compacted > 0
            ? `etcd has compacted the history after revision ${this.cursor} (the oldest is ${compacted})`
            : `etcd canceled the watch after revision ${this.cursor}: ${response.cancel_reason || 'no reason given'}`,
          Number(response.header.revision) || undefined,
        ),
      );
      return;
    }
    if (response.created) {
      this.retries = 0;
      this.retryBackoff.reset();
      return;
    }
    // Progress notifications (no events) only move the store's revision (see `header`): etcd before 3.5.8 could send
    // them to a watch still catching up, so the cursor moves with delivered events alone.
    for (const event of response.events) {
      try {
        this.handler.event(event);
      } catch (error) {
        this.fail(error instanceof StorageError ? error : new StorageError('Expired', this.name, String(error)));
        return;
      }
      if (this.stopped) return;
      this.cursor = Number(event.kv.mod_revision);
    }
  }

  private retry(error: unknown): void {
    if (this.stopped) return;
    this.drop();
    if (++this.retries > WATCH_RETRIES) {
      this.fail(new StorageError('Unavailable', this.name, `the etcd watch keeps breaking: ${String(error)}`));
      return;
    }
    this.retryTimer = setTimeout(() => void this.open(), this.retryBackoff.next());
    this.retryTimer.unref();
  }

  private fail(error: StorageError): void {
    this.stop();
    this.handler.failure(error);
  }

  private drop(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
  }
}

/**
 * Objects returned by reads, writes and watches belong to the caller: each is decoded afresh from etcd's bytes.
 * Connect with `EtcdStorage.connect`; `close` closes the client.
 */
export class EtcdStorage implements FallibleWatchStorage {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly listPageSize: number;
  private readonly onWatchError: WatchErrorHandler;
  private readonly onWatchFailure: WatchFailureHandler;
  private readonly watches = new Set<EtcdWatch>();
  private compactionWatch: EtcdWatch | undefined;
  /** The newest etcd revision any response has shown: etcd's revision is cluster-wide, so any key's write moves it. */
  private revision = 0;
  private compacted = 0;
  /** compact_rev_key's version as this replica last saw it (see compactInTurn); 0 at start, as kube-apiserver's. */
  private compactClock = 0;
  private closed = false;

  /** Connects, waiting up to `connectTimeoutMs` for etcd to answer, and learns the current and compacted revisions. */
  static async connect(options: EtcdStorageOptions): Promise<EtcdStorage> {
    const storage = new EtcdStorage(new Etcd3(clientOptions(options)), options);
    try {
      await storage.start(options.connectTimeoutMs ?? 60_000);
    } catch (error) {
      await storage.close();
      throw error;
    }
    return storage;
  }

  private constructor(client: Etcd3, options: EtcdStorageOptions) {
    this.client = client;
    this.prefix = (options.prefix ?? DEFAULT_ETCD_PREFIX).replace(/\/+$/, '');
    this.listPageSize = options.listPageSize ?? 1_000;
    this.onWatchError = options.onWatchError ?? reportWatchError;
    this.onWatchFailure =
      options.onWatchFailure ?? ((error) => process.emitWarning(`etcd watch of ${error.key} failed: ${error.message}`));
  }

  currentRevision(): number {
    return this.revision;
  }

  compactedRevision(): number {
    return this.compacted;
  }

  async get(key: string): Promise<KubeObject | undefined> {
    const response = await this.request(key, () => this.client.kv.range({ key: this.etcdKey(key) }));
    const kv = response.kvs[0];
    return kv && decode(kv.value, kv.mod_revision);
  }

  /** Reads page by page, every page at the first one's revision, so the list is one consistent state. */
  async list(prefix: string, options: ListOptions = {}): Promise<KeyedListResult> {
    const dir = directoryPrefix(prefix);
    const end = this.etcdKey(prefixEnd(dir));
    // Revision 0 asks etcd for the newest state; the first page's header then names it.
    let revision = options.revision ?? 0;
    const keys: string[] = [];
    const items: KubeObject[] = [];
    let from = this.etcdKey(dir);
    for (;;) {
      const page = await this.request(dir, () =>
        this.client.kv.range({ key: from, range_end: end, revision, limit: this.listPageSize }),
      );
      if (revision === 0) revision = Number(page.header.revision);
      for (const kv of page.kvs) {
        keys.push(this.storageKey(kv.key));
        items.push(decode(kv.value, kv.mod_revision));
      }
      if (!page.more || page.kvs.length === 0) break;
      from = Buffer.concat([page.kvs[page.kvs.length - 1].key, Buffer.from([0])]);
    }
    return { keys, items, revision };
  }

  async create(key: string, obj: KubeObject): Promise<KubeObject> {
    const k = this.etcdKey(key);
    const value = encode(obj);
    const response = await this.request(key, () =>
      this.client.kv.txn({
        compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: k, value } }],
      }),
    );
    if (!response.succeeded) throw new StorageError('AlreadyExists', key, `${key} already exists`);
    return decode(value, response.header.revision);
  }

  async update(key: string, obj: KubeObject, expectedRevision: number): Promise<KubeObject> {
    const value = encode(obj);
    const response = await this.guarded(key, expectedRevision, { request_put: { key: this.etcdKey(key), value } });
    return decode(value, response.header.revision);
  }

  async delete(key: string, expectedRevision: number): Promise<KubeObject> {
    const k = this.etcdKey(key);
    const response = await this.guarded(key, expectedRevision, { request_delete_range: { key: k, prev_kv: true } });
    const last = response.responses[0].response_delete_range.prev_kvs[0];
    return decode(last.value, response.header.revision);
  }

  /**
   * An etcd watch from `fromRevision + 1` with each change's previous state. `Expired` at once when `fromRevision` is
   * below the compaction this replica knows of; `onFailure` (see EtcdWatch) when etcd says so later.
   */
  watch(
    prefix: string,
    fromRevision: number,
    onEvent: (event: StorageEvent) => void,
    onFailure: WatchFailureHandler = this.onWatchFailure,
  ): Watcher {
    this.assertOpen(prefix);
    const dir = directoryPrefix(prefix);
    if (fromRevision < this.compacted) {
      throw new StorageError(
        'Expired',
        dir,
        `revision ${fromRevision} has been compacted; the oldest readable is ${this.compacted}`,
        this.revision,
      );
    }
    const request = { key: this.etcdKey(dir), range_end: this.etcdKey(prefixEnd(dir)), prev_kv: true };
    const watch = new EtcdWatch(this.client, dir, request, fromRevision, {
      event: (raw) => {
        const event = this.storageEvent(raw);
        try {
          onEvent(event);
        } catch (error) {
          this.onWatchError(error, event);
        }
      },
      header: (header) => this.observe(header),
      failure: (error) => {
        this.watches.delete(watch);
        onFailure(error);
      },
    });
    this.watches.add(watch);
    return {
      stop: () => {
        watch.stop();
        this.watches.delete(watch);
      },
    };
  }

  /**
   * Compacts etcd (its whole keyspace) to `revision`, capped at the newest revision. The horizon is recorded in
   * compact_rev_key first, as kube-apiserver does, so other replicas and later starts learn it.
   */
  async compact(revision: number): Promise<void> {
    const horizon = await this.horizon(revision);
    if (horizon <= this.compacted) return;
    await this.request('', () => this.client.kv.put({ key: COMPACT_KEY, value: Buffer.from(String(horizon)) }));
    await this.compactTo(horizon);
  }

  /**
   * Compacts periodically (see compactor.ts), taking turns with the other replicas as kube-apiserver's compactors do
   * (see compactInTurn); returns the function that stops it.
   */
  startCompactor(options: CompactorOptions = {}): () => void {
    return startCompactor(
      {
        currentRevision: () => this.currentRevision(),
        compactedRevision: () => this.compactedRevision(),
        compact: async (revision) => void (await this.compactInTurn(revision)),
      },
      options,
    );
  }

  /**
   * kube-apiserver's protocol (k8s.io/apiserver etcd3/compact.go): compact_rev_key's version is a logical clock. A
   * replica whose clock matches advances it and compacts; the others learn the new clock and the horizon and wait
   * for their next tick. However many replicas run, etcd is compacted about once per interval, and if the one that
   * has been compacting goes away, another takes its turn at its next tick. Returns whether it was this one's turn.
   */
  async compactInTurn(revision: number): Promise<boolean> {
    const horizon = await this.horizon(revision);
    if (horizon <= this.compacted) return false;
    const response = await this.request('', () =>
      this.client.kv.txn({
        compare: [{ key: COMPACT_KEY, target: 'Version', result: 'Equal', version: this.compactClock }],
        success: [{ request_put: { key: COMPACT_KEY, value: Buffer.from(String(horizon)) } }],
        failure: [{ request_range: { key: COMPACT_KEY } }],
      }),
    );
    if (!response.succeeded) {
      const record = response.responses[0].response_range.kvs[0];
      this.compactClock = Number(record?.version ?? 0);
      this.learnCompaction(record);
      return false;
    }
    this.compactClock++;
    await this.compactTo(horizon);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
    this.compactionWatch?.stop();
    this.client.close();
  }

  private async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const backoff = new Backoff({ initialMs: 200, maxMs: 5_000, jitter: 0.2 });
    for (;;) {
      const delay = backoff.next();
      try {
        await this.followCompactions();
        return;
      } catch (error) {
        if (!(error instanceof StorageError && error.code === 'Unavailable') || Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }

  /**
   * Learns of every replica's compactions from compact_rev_key, so `watch` answers Expired at once rather than fail
   * later: reads the key, then watches it from the read's revision (a watch from the present is never canceled).
   */
  private async followCompactions(): Promise<void> {
    const response = await this.request('', () => this.client.kv.range({ key: COMPACT_KEY }));
    this.learnCompaction(response.kvs[0]);
    if (this.closed) return;
    const request = { key: COMPACT_KEY, prev_kv: false };
    this.compactionWatch = new EtcdWatch(this.client, 'compact_rev_key', request, Number(response.header.revision), {
      event: (raw) => raw.type === 'Put' && this.learnCompaction(raw.kv),
      header: (header) => this.observe(header),
      failure: () => this.followCompactionsAgain(),
    });
  }

  /** Reading the key again catches up with whatever was recorded while the watch was down. */
  private followCompactionsAgain(): void {
    if (this.closed) return;
    this.followCompactions().catch(() => setTimeout(() => this.followCompactionsAgain(), 1_000).unref());
  }

  private learnCompaction(kv: IKeyValue | undefined): void {
    const recorded = kv ? Number(kv.value.toString()) : 0;
    if (Number.isSafeInteger(recorded)) this.compacted = Math.max(this.compacted, recorded);
  }

  /** `revision` capped at the newest revision, which is asked for when this replica may not have seen it yet. */
  private async horizon(revision: number): Promise<number> {
    if (revision > this.revision) await this.request('', () => this.client.kv.range({ key: COMPACT_KEY }));
    return Math.min(revision, this.revision);
  }

  private async compactTo(horizon: number): Promise<void> {
    try {
      await this.request('', () => this.client.kv.compact({ revision: horizon }));
    } catch (error) {
      // Another replica has already compacted this far.
      if (!(error instanceof StorageError && error.code === 'Expired')) throw error;
    }
    this.compacted = Math.max(this.compacted, horizon);
  }

  /**
   * A transaction on `key` that runs `op` only if the key exists at `expectedRevision`, and otherwise reads the key
   * to tell NotFound from Conflict.
   */
  private async guarded(key: string, expectedRevision: number, op: IRequestOp) {
    const k = this.etcdKey(key);
    const response = await this.request(key, () =>
      this.client.kv.txn({
        compare: [
          { key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRevision },
          // A missing key's mod_revision is 0: without this, an update expecting 0 would create the key.
          { key: k, target: 'Version', result: 'Greater', version: 0 },
        ],
        success: [op],
        failure: [{ request_range: { key: k, keys_only: true } }],
      }),
    );
    if (response.succeeded) return response;
    const live = response.responses[0].response_range.kvs[0];
    if (!live) throw new StorageError('NotFound', key, `${key} not found`);
    throw new StorageError('Conflict', key, `${key} is at revision ${live.mod_revision}, not ${expectedRevision}`);
  }

  /** Sends a request, learning the revision from its header and turning etcd's failures into StorageErrors. */
  private async request<T extends { header: IResponseHeader }>(key: string, send: () => Promise<T>): Promise<T> {
    this.assertOpen(key);
    let response: T;
    try {
      response = await send();
    } catch (error) {
      throw this.storageError(error, key);
    }
    this.observe(response.header);
    return response;
  }

  private storageError(error: unknown, key: string): unknown {
    const message = error instanceof Error ? error.message : String(error);
    if (message.includes('required revision has been compacted')) {
      return new StorageError('Expired', key, 'the revision asked for has been compacted', this.revision);
    }
    if (message.includes('required revision is a future revision')) {
      const newest = this.revision;
      return new StorageError('TooLargeResourceVersion', key, `the revision asked for is newer than ${newest}`, newest);
    }
    if (this.closed || isUnavailable(error)) return new StorageError('Unavailable', key, `etcd is unavailable: ${message}`);
    return error;
  }

  private storageEvent(raw: IEvent): StorageEvent {
    const key = this.storageKey(raw.kv.key);
    const revision = Number(raw.kv.mod_revision);
    const previous = raw.prev_kv;
    if (raw.type === 'Put' && raw.kv.create_revision === raw.kv.mod_revision) {
      return { type: 'ADDED', key, object: decode(raw.kv.value, revision), revision };
    }
    // etcd leaves prev_kv out only when that state has been compacted: the watch cannot go on whole.
    if (!previous) {
      throw new StorageError('Expired', key, `the state of ${key} before revision ${revision} has been compacted`, this.revision);
    }
    const prevObject = decode(previous.value, previous.mod_revision);
    return raw.type === 'Put'
      ? { type: 'MODIFIED', key, object: decode(raw.kv.value, revision), prevObject, revision }
      : { type: 'DELETED', key, object: decode(previous.value, revision), prevObject, revision };
  }

  private observe(header: IResponseHeader): void {
    this.revision = Math.max(this.revision, Number(header.revision));
  }

  private etcdKey(key: string): Buffer {
    return Buffer.from(this.prefix + key);
  }

  private storageKey(etcdKey: Buffer): string {
    return etcdKey.toString('utf8').slice(this.prefix.length);
  }

  private assertOpen(key: string): void {
    if (this.closed) throw new StorageError('Unavailable', key, 'the storage is closed');
  }
}
