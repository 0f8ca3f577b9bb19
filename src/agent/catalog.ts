// The backups a repository holds, found from the repository alone: every manifest is one backup.
import { backupPrefix, checkBackupId, manifestKey, MANIFEST_FILE, archiveKey, type BackupId, type Manifest } from './manifest.ts';
import { readManifest } from './restore.ts';
import type { Repository } from './repository/repository.ts';

/** The manifests under a namespace, or a database of one, or the whole repository; oldest first. */
export async function listBackups(repository: Repository, scope: { namespace?: string; database?: string } = {}): Promise<Manifest[]> {
  if (scope.database !== undefined && scope.namespace === undefined) throw new Error('--database needs --namespace');
  const prefix = scope.namespace === undefined ? '' : `${scope.namespace}/${scope.database === undefined ? '' : `${scope.database}/`}`;
  const manifests: Manifest[] = [];
  for (const { key } of await repository.list(prefix)) {
    const parts = key.split('/');
    if (parts.length !== 4 || parts[3] !== MANIFEST_FILE) continue;
    manifests.push(await readManifest(repository, { namespace: parts[0]!, database: parts[1]!, backup: parts[2]! }));
  }
  return manifests.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/**
 * Deletes a backup: the manifest first, so that from the first step on it no longer counts as a backup, then the
 * archive and whatever an interrupted run left. Deleting a backup that is not there succeeds.
 */
export async function deleteBackup(repository: Repository, id: BackupId): Promise<void> {
  checkBackupId(id);
  const manifest = await readManifest(repository, id).catch(() => undefined);
  await repository.delete(manifestKey(id));
  if (manifest) await repository.delete(archiveKey(manifest));
  for (const { key } of await repository.list(backupPrefix(id))) await repository.delete(key);
  await repository.removeIncomplete(backupPrefix(id));
}
