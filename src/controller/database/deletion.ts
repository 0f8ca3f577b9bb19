// What deleting a Database does before its finalizer lets it go, by spec.deletionPolicy:
// - every policy deletes the StatefulSet first, so the members stop before anything else goes;
// - Delete removes the data volumes (the members' PersistentVolumeClaims) and waits until they are gone;
// - Snapshot takes a final backup (trigger PreDelete) while the members still run, waits for it to complete, then
//   deletes like Delete. A final backup that fails stops the deletion, data intact, until someone decides (deletes the
//   failed Backup to try again, or sets deletionPolicy Delete or Retain). A Database that never became ready has
//   nothing to back up; in a namespace being deleted no Backup can be created, and everything goes with it;
// - Retain keeps the claims (the StatefulSet's whenDeleted: Retain already spares them) and releases the credentials
//   Secret from the Database's ownership, so the garbage collector keeps it too: a new Database of the same name
//   mounts the same volumes and needs the passwords they were initialised with.
// Every other child is owned by the Database and left to the garbage collector once the Database is gone.
import type { Backup } from '../../api/backup.ts';
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { childNames } from '../../engines/common.ts';
import type { ChildWriter } from '../children.ts';
import type { EventRecorder } from '../events.ts';
import type { OwnObjects } from '../ownobjects.ts';
import type { Informer } from '../runtime/cache.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isStatusError, type KubeClient } from '../runtime/client.ts';
import { resourcePath, resourceTypes } from '../runtime/kinds.ts';
import type { Observed } from './observed.ts';
import { newBackup } from './backups.ts';
import { deletingStatus } from './status.ts';

/** How often a deletion that waits for its final backup looks again (the Backup's changes also wake it). */
const FINAL_BACKUP_POLL_MS = 10_000;

/** The final backup of `db`: one per Database incarnation, so a new Database of the same name gets its own. */
export function finalBackupName(db: Database): string {
  return `${db.metadata.name}-final-${(db.metadata.uid ?? '').slice(0, 8)}`;
}

/** Takes the final backup, or says what the deletion waits for; undefined once there is one or none can be taken. */
async function finalBackup(ctx: DeletionContext, db: Database, signal?: AbortSignal): Promise<ReconcileResult | undefined> {
  const name = finalBackupName(db);
  if (await namespaceTerminating(ctx.client, db.metadata.namespace!, signal)) {
    // The namespace controller deletes the Backups too, and no Job could run in the namespace to take one.
    await ctx.events.record(db, {
      type: 'Warning',
      reason: 'FinalBackupSkipped',
      action: 'Delete',
      note: `namespace ${db.metadata.namespace} is being deleted, with its Backups: no final backup can be taken`,
    });
    return undefined;
  }
  const backup = ctx.backupCache.get(db.metadata.namespace, name) ?? (await ctx.backups.get(db.metadata.namespace, name));
  if (!backup) {
    if (db.status?.currentVersion === undefined) {
      await ctx.events.record(db, { type: 'Normal', reason: 'FinalBackupSkipped', action: 'Delete', note: 'the database never became ready: there is no data to back up' });
      return undefined;
    }
    try {
      await ctx.backups.create(newBackup(db, name, 'PreDelete'));
    } catch (err) {
      if (!isStatusError(err, 409)) throw err;
    }
    await ctx.events.record(db, { type: 'Normal', reason: 'FinalBackup', action: 'Delete', note: `Created Backup ${name}; the database is deleted once it completes` });
    return { requeueAfter: FINAL_BACKUP_POLL_MS };
  }
  switch (backup.status?.phase) {
    case 'Completed':
      return undefined;
    case 'Failed':
      await ctx.events.record(db, {
        type: 'Warning',
        reason: 'FinalBackupFailed',
        action: 'Delete',
        note: `the final Backup ${name} failed (${backup.status.failureReason ?? 'no reason given'}): the deletion waits with the data intact. Delete Backup ${name} to try again, or set spec.deletionPolicy to Delete or Retain.`,
      });
      return { requeueAfter: 6 * FINAL_BACKUP_POLL_MS };
    default:
      return { requeueAfter: FINAL_BACKUP_POLL_MS };
  }
}

async function namespaceTerminating(client: KubeClient, namespace: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const ns = await client.request<KubeObject>('GET', resourcePath(resourceTypes.Namespace, undefined, namespace), { signal });
    return !!ns.metadata.deletionTimestamp || ns.status?.phase === 'Terminating';
  } catch (err) {
    if (isStatusError(err, 404)) return true;
    throw err;
  }
}

/** How often a deletion that waits for volumes to go looks again (their deletion events also wake it). */
const CLAIMS_POLL_MS = 5_000;

export interface DeletionContext {
  client: KubeClient;
  children: ChildWriter;
  own: OwnObjects<Database>;
  backups: OwnObjects<Backup>;
  backupCache: Informer<Backup>;
  events: EventRecorder;
  now: () => Date;
}

const names = (objects: readonly KubeObject[]): string => objects.map((o) => o.metadata.name).join(', ');

/** The Database's own reference is dropped from `secret`; other owners stay. */
async function release(client: KubeClient, db: Database, secret: KubeObject, signal?: AbortSignal): Promise<void> {
  const refs = secret.metadata.ownerReferences ?? [];
  const others = refs.filter((ref) => ref.uid !== db.metadata.uid);
  if (others.length === refs.length) return;
  await client.request('PATCH', resourcePath(resourceTypes.Secret, secret.metadata.namespace, secret.metadata.name), {
    body: [
      // Guarded: a concurrent change of the owners fails the patch instead of being overwritten.
      { op: 'test', path: '/metadata/ownerReferences', value: refs },
      { op: 'replace', path: '/metadata/ownerReferences', value: others },
    ],
    contentType: 'application/json-patch+json',
    signal,
  });
}

/** Runs the deletion policy; resolves with a requeue while it waits for volumes to go, without one when done. */
export async function cleanup(ctx: DeletionContext, db: Database, observed: Observed, signal?: AbortSignal): Promise<ReconcileResult | void> {
  const policy = db.spec.deletionPolicy ?? 'Snapshot';
  const retain = policy === 'Retain';
  if (db.status?.phase !== 'Deleting') {
    const what = retain
      ? `deletionPolicy Retain: deleting the workload, keeping PersistentVolumeClaims ${names(observed.claims) || '(none)'} and Secret ${childNames(db).credentials}`
      : policy === 'Snapshot'
        ? `deletionPolicy Snapshot: taking a final backup, then deleting the workload and PersistentVolumeClaims ${names(observed.claims) || '(none)'}`
        : `deletionPolicy ${policy}: deleting the workload and PersistentVolumeClaims ${names(observed.claims) || '(none)'}`;
    db = await ctx.own.updateStatus(db, deletingStatus(db, ctx.now().toISOString(), what));
    await ctx.events.record(db, { type: 'Normal', reason: 'Deleting', action: 'Delete', note: what });
  }
  if (policy === 'Snapshot') {
    const waiting = await finalBackup(ctx, db, signal);
    if (waiting) return waiting;
  }
  if (observed.statefulSet) await ctx.children.delete(observed.statefulSet, signal);
  if (retain) {
    try {
      const credentials = await ctx.client.request<KubeObject>(
        'GET',
        resourcePath(resourceTypes.Secret, db.metadata.namespace, childNames(db).credentials),
        { signal },
      );
      await release(ctx.client, db, credentials, signal);
    } catch (err) {
      if (!isStatusError(err, 404)) throw err;
    }
    return;
  }
  for (const claim of observed.claims) {
    if (!claim.metadata.deletionTimestamp) await ctx.children.delete(claim, signal);
  }
  // A claim stays until no pod uses it (kubernetes.io/pvc-protection): the Database goes only after its data.
  if (observed.claims.length > 0) return { requeueAfter: CLAIMS_POLL_MS };
}
