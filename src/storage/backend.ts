// Opens the configured storage backend: embedded SQLite (the default; one process owns the file) or etcd (several
// replicas share it, for HA).
import type { CompactorOptions } from './compactor.ts';
import type { EtcdStorageOptions } from './etcd.ts';
import { SqliteStorage } from './sqlite.ts';
import type { FallibleWatchStorage } from './watch.ts';

export type BackendConfig = { type: 'sqlite'; path: string } | ({ type: 'etcd' } & EtcdStorageOptions);

export interface Backend extends FallibleWatchStorage {
  /** Compacts the backend's history periodically; returns the function that stops it. */
  startCompactor(options?: CompactorOptions): () => void;
}

export async function openBackend(config: BackendConfig): Promise<Backend> {
  if (config.type === 'sqlite') return SqliteStorage.open(config.path);
  // Loaded on demand: a server on SQLite does without the gRPC client.
  const { EtcdStorage } = await import('./etcd.ts');
  return EtcdStorage.connect(config);
}
