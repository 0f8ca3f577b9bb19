// Shared by the storage tests: objects, keys, and a watcher that collects events.
import type { KubeObject } from '../../src/api/meta.ts';
import type { Storage, StorageEvent, Watcher } from '../../src/storage/interface.ts';

export const PREFIX = '/strongroom.dev/databases/';

export function key(namespace: string, name: string): string {
  return `${PREFIX}${namespace}/${name}`;
}

export function database(namespace: string, name: string, replicas = 1): KubeObject {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name, namespace, labels: { app: 'shop' } },
    spec: { engine: 'postgres', version: '16', replicas },
  };
}

export const rv = (obj: KubeObject | undefined): number => Number(obj?.metadata.resourceVersion);

/** Lets queued immediates (watch replays, group commits) run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface Collector {
  events: StorageEvent[];
  watcher: Watcher;
  /** Resolves once `n` events have arrived. */
  until(n: number): Promise<StorageEvent[]>;
}

export function collect(storage: Storage, prefix: string, fromRevision: number, onEvent?: (event: StorageEvent) => void): Collector {
  const events: StorageEvent[] = [];
  let waiting: { n: number; resolve: (events: StorageEvent[]) => void } | undefined;
  const watcher = storage.watch(prefix, fromRevision, (event) => {
    events.push(event);
    onEvent?.(event);
    if (waiting && events.length >= waiting.n) waiting.resolve(events);
  });
  return {
    events,
    watcher,
    until: (n) =>
      events.length >= n ? Promise.resolve(events) : new Promise((resolve) => (waiting = { n, resolve })),
  };
}

export const summary = (events: StorageEvent[]): string[] =>
  events.map((e) => `${e.revision} ${e.type} ${e.key.slice(PREFIX.length)}`);
