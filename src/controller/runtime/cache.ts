// The in-memory side of an informer (client-go's indexer, kube-rs's reflector store): the objects last seen, by
// namespace and name, and the handlers told about every change. The watch side (informer.ts for cluster objects,
// ownwatch.ts for our own) feeds it with `replace` after a list and `upsert`/`remove` for watch events.
import pino, { type Logger } from 'pino';
import type { KubeObject } from '../../api/meta.ts';

export interface ResourceEventHandler<T extends KubeObject = KubeObject> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  /** The object's last known state. */
  delete?(obj: T): void;
}

/**
 * What a controller reads: a cache of one resource type and its change notifications. Objects are plain JSON (no
 * `Date`s), deep-frozen and shared by every reader: clone before modifying.
 */
export interface Informer<T extends KubeObject = KubeObject> {
  get(namespace: string | undefined, name: string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[];
  /** Whether the first list has been loaded (until then the cache is not the world). */
  hasSynced(): boolean;
  /** Resolves once synced; rejects with the signal's reason if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  /**
   * Tells `handler` about every change from now on, after an `add` for each object already cached (as client-go's
   * AddEventHandler does), so a late subscriber misses nothing. Returns the function that removes it.
   */
  addEventHandler(handler: ResourceEventHandler<T>): () => void;
}

export interface ObjectCacheOptions {
  logger?: Logger;
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

export class ObjectCache<T extends KubeObject = KubeObject> implements Informer<T> {
  protected readonly logger: Logger;
  /** namespace ('' for cluster-scoped) → name → object. */
  private readonly objects = new Map<string, Map<string, T>>();
  private readonly handlers = new Set<ResourceEventHandler<T>>();
  private synced = false;
  private syncWaiters: Array<() => void> = [];

  constructor(options: ObjectCacheOptions = {}) {
    this.logger = options.logger ?? pino({ level: 'silent' });
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.objects.get(namespace)?.values() ?? [])];
    return [...this.objects.values()].flatMap((names) => [...names.values()]);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  addEventHandler(handler: ResourceEventHandler<T>): () => void {
    this.handlers.add(handler);
    for (const obj of this.list()) this.call(() => handler.add?.(obj));
    return () => this.handlers.delete(handler);
  }

  /**
   * Makes the cache exactly `items` (the result of a list), telling the handlers what changed since the last state
   * it held: an add for each new object, an update for each whose resourceVersion moved, a delete for each gone.
   */
  replace(items: T[]): void {
    const listed = new Map<string, Map<string, T>>();
    for (const obj of items) {
      const namespace = obj.metadata.namespace ?? '';
      let names = listed.get(namespace);
      if (!names) listed.set(namespace, (names = new Map()));
      names.set(obj.metadata.name ?? '', obj);
    }
    for (const [namespace, names] of this.objects) {
      for (const obj of names.values()) {
        if (!listed.get(namespace)?.has(obj.metadata.name ?? '')) this.remove(obj);
      }
    }
    for (const obj of items) this.upsert(obj);
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters) wake();
      this.syncWaiters = [];
    }
  }

  /** An object was added or modified. Same resourceVersion as the cached one: nothing changed, nobody is told. */
  upsert(obj: T): void {
    deepFreeze(obj);
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    let names = this.objects.get(namespace);
    if (!names) this.objects.set(namespace, (names = new Map()));
    const old = names.get(name);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    names.set(name, obj);
    for (const handler of this.handlers) {
      this.call(() => (old ? handler.update?.(old, obj) : handler.add?.(obj)));
    }
  }

  /** An object was deleted; `obj` is its last state. Unknown objects are ignored. */
  remove(obj: T): void {
    deepFreeze(obj);
    const namespace = obj.metadata.namespace ?? '';
    const names = this.objects.get(namespace);
    if (!names?.delete(obj.metadata.name ?? '')) return;
    if (names.size === 0) this.objects.delete(namespace);
    for (const handler of this.handlers) this.call(() => handler.delete?.(obj));
  }

  /** A failing handler must not keep the others from hearing of the change, nor break the watch feeding the cache. */
  private call(notify: () => void): void {
    try {
      notify();
    } catch (err) {
      this.logger.error({ err }, 'informer event handler failed');
    }
  }
}
