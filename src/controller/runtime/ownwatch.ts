// An informer on Strongroom's own resources (Database, Backup, Restore), fed in process from the storage the API
// server writes to: list, then watch from the list's revision. The controller then runs beside the API server with
// no HTTP in between, and sees every write the moment it is committed.
import pino, { type Logger } from 'pino';
import type { KubeObject } from '../../api/meta.ts';
import { StorageError, type Storage, type Watcher } from '../../storage/interface.ts';
import { Backoff, sleep, type BackoffOptions } from '../../util/backoff.ts';
import { ObjectCache } from './cache.ts';

export interface StoreInformerOptions {
  storage: Storage;
  /** One resource's keys, e.g. `/strongroom.dev/databases/` (`ResourceStore.prefix(undefined)`). */
  prefix: string;
  /** Delays between attempts while the storage is unavailable (still loading, say). Default 0.5 s → 30 s. */
  backoff?: BackoffOptions;
  logger?: Logger;
}

export class StoreInformer<T extends KubeObject = KubeObject> extends ObjectCache<T> {
  private readonly storage: Storage;
  private readonly prefix: string;
  private readonly backoff: Backoff;
  private stopper: AbortController | undefined;
  private running: Promise<void> | undefined;
  private watcher: Watcher | undefined;

  constructor(options: StoreInformerOptions) {
    super({ logger: (options.logger ?? pino({ level: 'silent' })).child({ informer: options.prefix }) });
    this.storage = options.storage;
    this.prefix = options.prefix;
    this.backoff = new Backoff(options.backoff ?? { initialMs: 500, maxMs: 30_000 });
  }

  start(): void {
    if (this.running) return;
    this.stopper = new AbortController();
    this.running = this.run(this.stopper.signal);
  }

  async stop(): Promise<void> {
    this.stopper?.abort();
    await this.running;
    this.running = undefined;
    this.watcher?.stop();
    this.watcher = undefined;
  }

  /** Lists and starts the watch, retrying until both succeed. A storage watch, once started, does not fail. */
  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const { items, revision } = await this.storage.list(this.prefix);
        if (signal.aborted) return;
        this.replace(items as T[]);
        this.watcher = this.storage.watch(this.prefix, revision, (event) => {
          if (event.type === 'DELETED') this.remove(event.object as T);
          else this.upsert(event.object as T);
        });
        return;
      } catch (err) {
        // Compacted between the list and the watch: list again at once.
        if (err instanceof StorageError && err.code === 'Expired') continue;
        const delay = this.backoff.next();
        this.logger.warn({ err, retryInMs: Math.round(delay) }, 'list or watch of the store failed');
        await sleep(delay, signal);
      }
    }
  }
}
