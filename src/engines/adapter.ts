// What the backup agent needs of an engine: a stream of its data for a backup, and a way to put a verified archive
// back. Each engine's agent.ts is the only place that knows its engine's tools.
import type { Readable } from 'node:stream';

/** Where the database answers and who the agent is there. The password comes from the environment, never argv. */
export interface Connection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** postgres: the database to dump or restore into. */
  dbname?: string;
}

export interface BackupRequest {
  method: string;
  connection: Connection;
  /** A private directory for what a tool can only write to a file. */
  scratchDir: string;
  signal?: AbortSignal;
}

export interface BackupSource {
  stream: Readable;
  /** As the server reports it, e.g. "15.18". */
  engineVersion: string;
  /** How many bytes the stream will carry, when the engine can tell beforehand; an estimate for postgres. */
  bytesTotal?: number;
}

/** What a restore writes into: a running server (postgres dump) or a stopped member's data directory. */
export interface RestoreTarget {
  connection?: Connection;
  /** postgres dump: make the restored objects belong to this role (the target Database's application role). */
  role?: string;
  /** redis, etcd, postgres basebackup: the data directory of the stopped member. */
  dataDir?: string;
  /** etcd: the member's identity in the restored cluster. */
  etcdMember?: {
    name: string;
    initialCluster: string;
    initialAdvertisePeerUrls: string;
    initialClusterToken: string;
  };
}

export interface RestoreRequest {
  method: string;
  target: RestoreTarget;
  /**
   * The decoded archive (decrypted, decompressed) of stored bytes whose digest was verified before the first byte
   * of it is given here. It can still fail — a wrong key, a bug — so what it feeds must not complete on an error.
   */
  archive: Readable;
  /** Local space for tools that read only files. */
  scratchDir: string;
  signal?: AbortSignal;
}

export interface EngineAdapter {
  /** The archive's file-name format for a method, e.g. `pgdump` or `rdb`. */
  archiveFormat(method: string): string;
  /** Refuses a target that lacks what this engine and method need, before anything is downloaded. */
  checkTarget(method: string, target: RestoreTarget): void;
  backup(request: BackupRequest): Promise<BackupSource>;
  restore(request: RestoreRequest): Promise<void>;
}

/** A required target field, or an error naming the flag that supplies it. */
export function required<T>(value: T | undefined, flag: string, what: string): T {
  if (value === undefined || value === '') throw new Error(`${flag} is required to restore ${what}`);
  return value;
}
