// One backup: the engine's stream → progress count → compression → encryption → the repository (which measures the
// SHA-256 and size of what it stores), then the manifest, last. Streams all the way, with backpressure: the engine's
// tool is read only as fast as the repository takes the archive.
import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Connection } from '../engines/adapter.ts';
import { engineFor, type EngineName as Engine } from '../engines/registry.ts';
import { compressor, type Compression } from './compression.ts';
import { EncryptStream, ENCRYPTION_ALGORITHM, type EncryptionKey } from './encryption.ts';
import {
  archiveKey,
  archiveName,
  backupPrefix,
  checkBackupId,
  encodeManifest,
  manifestKey,
  MANIFEST_FORMAT,
  type BackupId,
  type Manifest,
} from './manifest.ts';
import { ProgressCounter } from './progress.ts';
import { readManifest } from './restore.ts';
import { ProgressThrottle, reportFinal, type StatusReporter } from './reporter.ts';
import type { Repository } from './repository/repository.ts';

export interface BackupOptions {
  engine: Engine;
  /** The engine's default method when absent. */
  method?: string;
  connection: Connection;
  repository: Repository;
  id: BackupId;
  databaseUID?: string;
  backupUID?: string;
  compression: Compression;
  encryptionKey?: EncryptionKey;
  scratchDir: string;
  reporter?: StatusReporter;
  /** Called with each progress value, before any throttling (for tests and logs). */
  onProgress?: (progress: { bytesDone: number; bytesTotal?: number }) => void;
  warn?: (message: string) => void;
  signal?: AbortSignal;
  now?: () => Date;
}

export interface BackupResult {
  sizeBytes: number;
  sha256: string;
  location: string;
  manifest: string;
  engine: Engine;
  engineVersion: string;
  method: string;
  compression: Compression;
  encryption?: Manifest['encryption'];
  sourceBytes: number;
}

function resultOf(manifest: Manifest, repository: Repository): BackupResult {
  return {
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    location: repository.location(archiveKey(manifest)),
    manifest: repository.location(manifestKey(manifest)),
    engine: manifest.engine,
    engineVersion: manifest.engineVersion,
    method: manifest.method,
    compression: manifest.compression,
    ...(manifest.encryption ? { encryption: manifest.encryption } : {}),
    sourceBytes: manifest.sourceBytes,
  };
}

function completedStatus(result: BackupResult, completionTime: string) {
  return {
    phase: 'Completed' as const,
    completionTime,
    engine: result.engine,
    engineVersion: result.engineVersion,
    sizeBytes: result.sizeBytes,
    sha256: result.sha256,
    location: result.location,
    progress: { bytesDone: result.sourceBytes, bytesTotal: result.sourceBytes },
  };
}

/** Waits for both; rejects with whichever failed first, since the other's error is usually a consequence. */
async function both<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  let first: unknown;
  const note = (error: unknown) => {
    first ??= error;
    throw error;
  };
  const results = await Promise.allSettled([a.catch(note), b.catch(note)]);
  if (results.some((r) => r.status === 'rejected')) throw first;
  return [(results[0] as PromiseFulfilledResult<A>).value, (results[1] as PromiseFulfilledResult<B>).value];
}

/** An existing manifest of this backup: the same run again (a retried Job) gets its result; anything else is refused. */
async function existingBackup(options: BackupOptions): Promise<Manifest | undefined> {
  const manifest = await readManifest(options.repository, options.id).catch((error: Error) => {
    if (error.name === 'ObjectNotFoundError') return undefined;
    throw error;
  });
  if (!manifest) return undefined;
  if (options.backupUID && manifest.backupUID === options.backupUID) return manifest;
  const { namespace, database, backup } = options.id;
  throw new Error(
    `the repository already holds backup ${namespace}/${database}/${backup}${manifest.backupUID ? ` (backup uid ${manifest.backupUID})` : ''}; ` +
      'delete it or choose another name',
  );
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const { repository, id, reporter } = options;
  const now = options.now ?? (() => new Date());
  const warn = options.warn ?? (() => {});
  checkBackupId(id);
  const { adapter, backup } = engineFor(options.engine);
  const method = options.method ?? backup.methods[0];
  if (!backup.methods.includes(method)) {
    throw new Error(`--method: ${options.engine} backs up with ${backup.methods.join(' or ')}, not ${method}`);
  }

  const done = await existingBackup(options);
  if (done) {
    const result = resultOf(done, repository);
    if (reporter) await reportFinal(reporter, completedStatus(result, done.createdAt));
    return result;
  }

  const startedAt = now().toISOString();
  let manifest: Manifest;
  try {
    const removed = await repository.removeIncomplete(backupPrefix(id));
    if (removed > 0) warn(`removed ${removed} incomplete object(s) left by an interrupted run`);
    // A status API that is unreachable for now does not stop the backup: the final report is retried, and the
    // controller can read the result from the Job's termination message.
    await reporter
      ?.patch({ phase: 'Running', startTime: startedAt, progress: { bytesDone: 0 } })
      .catch((error: Error) => warn(`could not report the start: ${error.message}`));

    const source = await adapter.backup({ method, connection: options.connection, scratchDir: options.scratchDir, signal: options.signal });
    const throttle = reporter ? new ProgressThrottle(reporter, { warn }) : undefined;
    const counter = new ProgressCounter(source.bytesTotal, (progress) => {
      options.onProgress?.(progress);
      throttle?.progress(progress);
    });
    const archive = archiveName(adapter.archiveFormat(method), options.compression, options.encryptionKey !== undefined);
    const stages: Transform[] = [counter, compressor(options.compression)];
    if (options.encryptionKey) stages.push(new EncryptStream(options.encryptionKey));
    const encoded = new PassThrough({ highWaterMark: 64 * 1024 });
    const [, stored] = await both(
      pipeline([source.stream, ...stages, encoded], { signal: options.signal }),
      repository.put(`${backupPrefix(id)}${archive}`, encoded, options.signal),
    ).catch((error: unknown) => {
      source.stream.destroy();
      throw error;
    });
    await throttle?.settle();

    manifest = {
      format: MANIFEST_FORMAT,
      ...id,
      ...(options.databaseUID ? { databaseUID: options.databaseUID } : {}),
      ...(options.backupUID ? { backupUID: options.backupUID } : {}),
      engine: options.engine,
      engineVersion: source.engineVersion,
      method,
      archive,
      compression: options.compression,
      ...(options.encryptionKey ? { encryption: { algorithm: ENCRYPTION_ALGORITHM, keyId: options.encryptionKey.id } } : {}),
      sizeBytes: stored.size,
      sha256: stored.sha256,
      sourceBytes: counter.bytesDone,
      startedAt,
      createdAt: now().toISOString(),
    };
    // Last: only now does the repository hold a backup.
    await repository.put(manifestKey(id), Readable.from([encodeManifest(manifest)]), options.signal);
  } catch (error) {
    if (reporter) {
      const failureReason = options.signal?.aborted
        ? `interrupted (${String(options.signal.reason)})`
        : error instanceof Error
          ? error.message
          : String(error);
      await reporter
        .patch({ phase: 'Failed', failureReason, completionTime: now().toISOString() })
        .catch((reportError: Error) => warn(`could not report the failure: ${reportError.message}`));
    }
    throw error;
  }
  const result = resultOf(manifest, repository);
  if (reporter) {
    // Not a failed backup: the archive is complete. A retried Job finds the manifest and reports it again.
    await reportFinal(reporter, completedStatus(result, manifest.createdAt)).catch((error: Error) => {
      throw new Error(`the backup is complete at ${result.location} but its status could not be recorded: ${error.message}`);
    });
  }
  return result;
}
