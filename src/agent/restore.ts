// One restore, in two steps so that nothing is applied from an archive that is not exactly the one recorded:
//
//   1. verify: the stored bytes are hashed and compared with the manifest's SHA-256 and size (and the Backup's,
//      when given). An archive in a directory repository is verified in place, through one open file handle that
//      step 2 reads again; one in S3 is downloaded into the scratch directory on the way.
//   2. apply: only then is the archive decrypted, decompressed and streamed into the engine's tool (pg_restore and
//      tar read standard input; Redis and etcd get a staging file).
//
// Why verify first rather than while the tool reads: the digest is known only after the last byte, and by then a
// tool fed from a pipe has applied what came before (pg_restore would commit). Verifying the stored bytes costs one
// read of the archive — compressed, so the smallest form of the data — and local space only for remote archives.
// Decoding can still fail after that (a wrong key); the tool is then killed before it sees the end of its input,
// which rolls back pg_restore's single transaction and discards tar's half-made directory.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RestoreTarget } from '../engines/adapter.ts';
import { engineFor, type EngineName as Engine } from '../engines/registry.ts';
import { decompressor } from './compression.ts';
import { ArchiveCorruptError, DigestStream, verifyDigest } from './digest.ts';
import { DecryptStream, type EncryptionKey } from './encryption.ts';
import { archiveKey, checkBackupId, manifestKey, parseManifest, type BackupId, type Manifest } from './manifest.ts';
import type { Repository } from './repository/repository.ts';

const MAX_MANIFEST_BYTES = 1024 * 1024;

export async function readManifest(repository: Repository, id: BackupId): Promise<Manifest> {
  const key = manifestKey(id);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await repository.get(key)) {
    size += (chunk as Buffer).length;
    if (size > MAX_MANIFEST_BYTES) throw new Error(`${key}: larger than ${MAX_MANIFEST_BYTES} bytes, not a manifest`);
    chunks.push(chunk as Buffer);
  }
  return parseManifest(Buffer.concat(chunks).toString('utf8'), key);
}

export interface RestoreOptions {
  /** When given, the backup must be of this engine. */
  engine?: Engine;
  repository: Repository;
  id: BackupId;
  /** The digest the Backup's status recorded; checked against the manifest, so an edited manifest is caught too. */
  sha256?: string;
  target: RestoreTarget;
  encryptionKey?: EncryptionKey;
  scratchDir: string;
  signal?: AbortSignal;
}

export interface RestoreResult {
  backup: string;
  engine: Engine;
  engineVersion: string;
  method: string;
  sizeBytes: number;
  sha256: string;
}

/** Refuses what cannot succeed before anything is downloaded. */
function checkManifest(manifest: Manifest, options: RestoreOptions): void {
  if (options.engine !== undefined && manifest.engine !== options.engine) throw new Error(`the backup is of ${manifest.engine}, not ${options.engine}`);
  if (options.sha256 !== undefined && options.sha256 !== manifest.sha256) {
    throw new ArchiveCorruptError(
      `the manifest records sha256 ${manifest.sha256} but the Backup recorded ${options.sha256}; nothing was restored`,
    );
  }
  if (manifest.encryption && !options.encryptionKey) {
    throw new Error(`the archive is encrypted with key id ${manifest.encryption.keyId}; give its key (--encryption-key-file)`);
  }
}

/** The stored archive as a local file whose bytes have been verified; `close` releases it. */
interface VerifiedArchive {
  handle: FileHandle;
  close(): Promise<void>;
}

async function verifiedArchive(options: RestoreOptions, manifest: Manifest): Promise<VerifiedArchive> {
  const { repository } = options;
  const key = archiveKey(manifest);
  const digest = new DigestStream();
  let handle: FileHandle;
  let cleanup = async () => {};
  if (repository.openLocal) {
    handle = await repository.openLocal(key);
    await pipeline(createReadStream('', { fd: handle, autoClose: false, start: 0 }), digest, new PassThrough().resume(), { signal: options.signal });
  } else {
    await mkdir(options.scratchDir, { recursive: true });
    const path = join(options.scratchDir, `.strongroom-archive-${process.pid}-${randomBytes(4).toString('hex')}`);
    cleanup = () => rm(path, { force: true });
    try {
      await pipeline(await repository.get(key), digest, createWriteStream(path, { flags: 'wx', mode: 0o600 }), { signal: options.signal });
      handle = await open(path, 'r');
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
  const close = async () => {
    await handle.close();
    await cleanup();
  };
  try {
    verifyDigest(digest.result(), { sha256: manifest.sha256, size: manifest.sizeBytes });
  } catch (error) {
    await close();
    throw error;
  }
  return { handle, close };
}

/** The verified archive decrypted and decompressed, as one stream that fails if any stage does. */
function decoded(archive: VerifiedArchive, manifest: Manifest, options: RestoreOptions): Readable {
  const stages: Transform[] = [];
  if (manifest.encryption) stages.push(new DecryptStream(options.encryptionKey!));
  stages.push(decompressor(manifest.compression));
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  pipeline([createReadStream('', { fd: archive.handle, autoClose: false, start: 0 }), ...stages, out], { signal: options.signal }).catch(
    (error: Error) => out.destroy(error instanceof ArchiveCorruptError ? error : new ArchiveCorruptError(`the archive could not be decoded: ${error.message}`)),
  );
  return out;
}

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  checkBackupId(options.id);
  const manifest = await readManifest(options.repository, options.id);
  checkManifest(manifest, options);
  const { adapter } = engineFor(manifest.engine);
  adapter.checkTarget(manifest.method, options.target);

  const archive = await verifiedArchive(options, manifest);
  try {
    await adapter.restore({
      method: manifest.method,
      target: options.target,
      archive: decoded(archive, manifest, options),
      scratchDir: options.scratchDir,
      signal: options.signal,
    });
  } finally {
    await archive.close();
  }
  return {
    backup: `${manifest.namespace}/${manifest.database}/${manifest.backup}`,
    engine: manifest.engine,
    engineVersion: manifest.engineVersion,
    method: manifest.method,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
  };
}
