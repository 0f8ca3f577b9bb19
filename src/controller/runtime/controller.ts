// A controller (controller-runtime's Controller, kube-rs's Controller): informers' changes become keys in a work
// queue, and N workers call `reconcile(key)` for them, one key never twice at once. Reconciling is level-based: the
// key says which object to look at, not what happened, so the reconciler reads the world and converges it.
//
//   new Controller({ name: 'database', reconcile })
//     .for(databases)                                            // a Database's own key
//     .watches(statefulSets, byControllerOwner('strongroom.dev', 'Database'))
//     .watches(pods, byLabel('strongroom.dev/database'))
//     .run(signal);                                              // until the signal aborts
import pino, { type Logger } from 'pino';
import type { KubeObject, NamespacedName } from '../../api/meta.ts';
import type { Informer } from './cache.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { WorkQueue } from './queue.ts';

export interface ReconcileResult {
  /** Reconcile this key again after so many milliseconds (polling what no watch reports, or a schedule). */
  requeueAfter?: number;
}

/**
 * Converges the object named by `key`. Resolve when done; throw to be retried with per-key exponential backoff;
 * throw a `TerminalError` for a failure that retrying cannot fix. `signal` aborts when the controller stops (the
 * leader lost its lease, the process is shutting down).
 */
export type Reconcile = (key: NamespacedName, signal: AbortSignal) => Promise<ReconcileResult | void>;

/** A failure that must not be retried (controller-runtime's reconcile.TerminalError): logged, then forgotten. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** Which keys a change to `obj` concerns. */
export type KeyMapper<T extends KubeObject = KubeObject> = (obj: T) => NamespacedName[];

export function objectKey(obj: KubeObject): NamespacedName {
  return { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
}

/** `namespace/name`, or `name` for a cluster-scoped object: the queue's key. Names never contain '/'. */
export function keyString(key: NamespacedName): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function parseKey(key: string): NamespacedName {
  const slash = key.indexOf('/');
  return slash === -1 ? { namespace: undefined, name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The object's controller, when it is of `group`'s `kind` (owned children: StatefulSets, Services, Secrets...). */
export function byControllerOwner(group: string, kind: string): KeyMapper {
  return (obj) => {
    const owner = obj.metadata.ownerReferences?.find((ref) => ref.controller);
    if (!owner || owner.kind !== kind || owner.apiVersion.split('/')[0] !== group) return [];
    return [{ namespace: obj.metadata.namespace, name: owner.name }];
  };
}

/** The object named by a label, in the object's namespace (children an owner reference cannot reach, like Pods). */
export function byLabel(label: string): KeyMapper {
  return (obj) => {
    const name = obj.metadata.labels?.[label];
    return name ? [{ namespace: obj.metadata.namespace, name }] : [];
  };
}

export interface ControllerOptions {
  /** For logs. */
  name: string;
  reconcile: Reconcile;
  /** Concurrent reconciles (of different keys). Default 2. */
  workers?: number;
  /** Every key of the `for` informers is reconciled this often, as a guard against missed changes. Default 10 min. */
  resyncPeriodMs?: number;
  /** Default: a queue with client-go's default controller rate limiter. */
  queue?: WorkQueue;
  clock?: Clock;
  logger?: Logger;
}

interface Source {
  informer: Informer;
  map: KeyMapper;
}

/** Runs once: build a new Controller for each run (each leadership term, say). */
export class Controller {
  readonly name: string;
  private readonly reconcile: Reconcile;
  private readonly workers: number;
  private readonly resyncPeriodMs: number;
  private readonly queue: WorkQueue;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly primaries: Informer[] = [];
  private readonly sources: Source[] = [];
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconcile = options.reconcile;
    this.workers = options.workers ?? 2;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 600_000;
    this.clock = options.clock ?? realClock;
    this.queue = options.queue ?? new WorkQueue({ clock: this.clock });
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ controller: options.name });
  }

  /** The resource this controller reconciles: each object's own key, and the keys the periodic resync walks. */
  for(informer: Informer): this {
    this.primaries.push(informer);
    return this.watches(informer, (obj) => [objectKey(obj)]);
  }

  /** Another resource whose changes concern the keys `map` names (owned children, labelled pods). */
  watches<T extends KubeObject>(informer: Informer<T>, map: KeyMapper<T>): this {
    if (this.running) throw new Error(`controller ${this.name}: add sources before run`);
    this.sources.push({ informer: informer as unknown as Informer, map: map as KeyMapper });
    return this;
  }

  enqueue(key: NamespacedName): void {
    this.queue.add(keyString(key));
  }

  /**
   * Subscribes to the sources, waits until every informer has synced, then reconciles until `signal` aborts or
   * `stop` is called. Resolves once the in-flight reconciles have finished.
   */
  run(signal?: AbortSignal): Promise<void> {
    if (this.running) throw new Error(`controller ${this.name} has already run`);
    const stop = (): void => this.stopper.abort();
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    this.running = this.runUntilStopped(this.stopper.signal).finally(() => signal?.removeEventListener('abort', stop));
    return this.running;
  }

  /** Stops taking keys and waits for the in-flight reconciles, whose signal aborts. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.running;
  }

  private async runUntilStopped(signal: AbortSignal): Promise<void> {
    const unsubscribe = this.sources.map(({ informer, map }) => {
      const enqueue = (obj: KubeObject): void => {
        for (const key of map(obj)) this.enqueue(key);
      };
      return informer.addEventHandler({
        add: enqueue,
        // Both: a child whose owner or label changed concerns the old key and the new one.
        update: (oldObj, newObj) => {
          enqueue(oldObj);
          enqueue(newObj);
        },
        delete: enqueue,
      });
    });
    let resync: TimerHandle | undefined;
    try {
      const synced = Promise.all(this.sources.map(({ informer }) => informer.waitForSync(signal)));
      if (!(await synced.then(() => true, () => false))) return;
      this.logger.info({ workers: this.workers }, 'caches synced; starting workers');
      const scheduleResync = (): void => {
        resync = this.clock.setTimeout(() => {
          for (const informer of this.primaries) for (const obj of informer.list()) this.enqueue(objectKey(obj));
          scheduleResync();
        }, this.resyncPeriodMs);
      };
      scheduleResync();
      const workers = Array.from({ length: this.workers }, () => this.work(signal));
      if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      this.queue.shutDown();
      await Promise.all(workers);
    } finally {
      this.queue.shutDown();
      if (resync !== undefined) this.clock.clearTimeout(resync);
      for (const remove of unsubscribe) remove();
      this.logger.info('stopped');
    }
  }

  private async work(signal: AbortSignal): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      try {
        const result = await this.reconcile(parseKey(key), signal);
        this.queue.forget(key);
        if (result?.requeueAfter !== undefined && result.requeueAfter > 0) this.queue.addAfter(key, result.requeueAfter);
      } catch (err) {
        if (err instanceof TerminalError) {
          this.logger.error({ err, key }, 'reconcile failed terminally; not retrying');
          this.queue.forget(key);
        } else if (!signal.aborted) {
          this.logger.error({ err, key, requeues: this.queue.numRequeues(key) }, 'reconcile failed; retrying with backoff');
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
      }
    }
  }
}
