// The layout of a repository and the manifest that makes an archive a backup. Everything needed to find, check and
// restore a backup is in the repository itself, so it can be listed and restored without Strongroom's database:
//
//   <repository prefix>/<namespace>/<database>/<backup>/archive.<format>[.zst|.gz][.enc]
//   <repository prefix>/<namespace>/<database>/<backup>/manifest.json
//
// The manifest is written last, after the archive is complete: a backup directory without one is an interrupted run
// and is never listed as a backup.
import { ENGINE_NAMES, isEngine, type EngineName as Engine } from '../engines/registry.ts';
import { compressionSuffix, isCompression, type Compression } from './compression.ts';
import { ENCRYPTION_ALGORITHM } from './encryption.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'strongroom.dev/backup-manifest/v1';

/** Which backup: the Backup object's namespace and name and its Database's name. */
export interface BackupId {
  namespace: string;
  database: string;
  backup: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  namespace: string;
  database: string;
  backup: string;
  databaseUID?: string;
  backupUID?: string;
  engine: Engine;
  engineVersion: string;
  method: string;
  /** The archive's file name, beside the manifest. */
  archive: string;
  compression: Compression;
  /** Absent when the archive is not encrypted. The key itself is never recorded. */
  encryption?: { algorithm: typeof ENCRYPTION_ALGORITHM; keyId: string };
  /** Of the archive as stored, after compression and encryption. */
  sizeBytes: number;
  sha256: string;
  /** Bytes the engine's tool produced, before compression. */
  sourceBytes: number;
  startedAt: string;
  createdAt: string;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function checkBackupId(id: BackupId): void {
  for (const [field, value] of Object.entries(id)) {
    if (!NAME.test(value) || value.length > 253) throw new Error(`--${field}: not a Kubernetes object name: ${JSON.stringify(value)}`);
  }
}

export function backupPrefix(id: BackupId): string {
  return `${id.namespace}/${id.database}/${id.backup}/`;
}

export function manifestKey(id: BackupId): string {
  return `${backupPrefix(id)}${MANIFEST_FILE}`;
}

export function archiveName(format: string, compression: Compression, encrypted: boolean): string {
  return `archive.${format}${compressionSuffix(compression)}${encrypted ? '.enc' : ''}`;
}

export function archiveKey(manifest: Pick<Manifest, 'namespace' | 'database' | 'backup' | 'archive'>): string {
  return `${backupPrefix(manifest)}${manifest.archive}`;
}

export function encodeManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads a manifest, refusing one that does not say everything a restore relies on. */
export function parseManifest(text: string, key: string): Manifest {
  let value: any;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${key}: not JSON: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  if (value?.format !== MANIFEST_FORMAT) problems.push(`format is not ${MANIFEST_FORMAT}`);
  for (const field of ['namespace', 'database', 'backup', 'engineVersion', 'method', 'archive', 'startedAt', 'createdAt']) {
    if (typeof value?.[field] !== 'string') problems.push(`${field} is missing`);
  }
  if (!isEngine(value?.engine)) problems.push(`engine is not one of ${ENGINE_NAMES.join(', ')}`);
  if (!isCompression(value?.compression)) problems.push('compression is not zstd, gzip or none');
  if (!Number.isSafeInteger(value?.sizeBytes) || value.sizeBytes < 0) problems.push('sizeBytes is not a byte count');
  if (typeof value?.sha256 !== 'string' || !/^[a-f0-9]{64}$/.test(value.sha256)) problems.push('sha256 is not 64 hex digits');
  if (value?.encryption !== undefined && (value.encryption.algorithm !== ENCRYPTION_ALGORITHM || typeof value.encryption.keyId !== 'string')) {
    problems.push(`encryption is not ${ENCRYPTION_ALGORITHM} with a keyId`);
  }
  if (typeof value?.archive === 'string' && (value.archive.includes('/') || !value.archive.startsWith('archive.'))) {
    problems.push('archive is not a file name beside the manifest');
  }
  if (problems.length > 0) throw new Error(`${key}: not a usable backup manifest: ${problems.join('; ')}`);
  return value as Manifest;
}
