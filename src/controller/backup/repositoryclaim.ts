// The claim a Database's archives go to when spec.backup.repository.pvc names none: `<database>-backups`, created
// with the first backup. No Database owns it: archives are the way back after the Database is gone (deletionPolicy
// Snapshot), so it stays until its Backups are deleted and someone deletes it.
import { DATABASE_LABEL } from '../../api/action.ts';
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { parseQuantity } from '../../api/quantity.ts';
import { MANAGED_BY } from '../../engines/common.ts';
import { FIELD_MANAGER } from '../runtime/apply.ts';
import { isStatusError, type KubeClient } from '../runtime/client.ts';
import { resourcePath, resourceTypes } from '../runtime/kinds.ts';

/** The claim to create for `db`'s archives, or undefined when it names its own claim or keeps archives in S3. */
export function repositoryClaim(db: Database): KubeObject | undefined {
  const pvc = db.spec.backup?.repository?.pvc;
  if (!pvc || pvc.claimName) return undefined;
  // Twice the data volume by default: a full archive is compressed, and the newest must fit beside the one before.
  const size = pvc.size ?? `${Math.ceil((2 * parseQuantity(db.spec.storage?.size ?? '1Gi')) / 2 ** 30)}Gi`;
  const spec: Record<string, unknown> = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: String(size) } } };
  if (db.spec.storage?.storageClassName) spec.storageClassName = db.spec.storage.storageClassName;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: `${db.metadata.name}-backups`,
      namespace: db.metadata.namespace,
      labels: { 'app.kubernetes.io/component': 'backup-repository', 'app.kubernetes.io/managed-by': MANAGED_BY, [DATABASE_LABEL]: db.metadata.name! },
    },
    spec,
  };
}

/** Creates the repository claim of `db` unless it exists (a claim's spec is never changed here: it holds archives). */
export async function ensureRepositoryClaim(client: KubeClient, db: Database, signal?: AbortSignal): Promise<void> {
  const claim = repositoryClaim(db);
  if (!claim) return;
  try {
    await client.request('POST', resourcePath(resourceTypes.PersistentVolumeClaim, db.metadata.namespace), { query: { fieldManager: FIELD_MANAGER }, body: claim, signal });
  } catch (err) {
    if (!isStatusError(err, 409)) throw err;
  }
}
