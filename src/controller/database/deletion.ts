// What deleting a Database does before its finalizer lets it go, by spec.deletionPolicy:
// - every policy deletes the StatefulSet first, so the members stop before anything else goes;
// - Delete removes the data volumes (the members' PersistentVolumeClaims) and waits until they are gone;
// - Snapshot is meant to take a final backup first. Backups are not built yet, so for now it deletes like Delete and
//   says so in a Warning Event rather than pretending a snapshot was taken;
// - Retain keeps the claims (the StatefulSet's whenDeleted: Retain already spares them) and releases the credentials
//   Secret from the Database's ownership, so the garbage collector keeps it too: a new Database of the same name
//   mounts the same volumes and needs the passwords they were initialised with.
// Every other child is owned by the Database and left to the garbage collector once the Database is gone.
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { childNames } from '../../engines/common.ts';
import type { ChildWriter } from '../children.ts';
import type { EventRecorder } from '../events.ts';
import type { OwnObjects } from '../ownobjects.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isStatusError, type KubeClient } from '../runtime/client.ts';
import { resourcePath, resourceTypes } from '../runtime/kinds.ts';
import type { Observed } from './observed.ts';
import { deletingStatus } from './status.ts';

/** How often a deletion that waits for volumes to go looks again (their deletion events also wake it). */
const CLAIMS_POLL_MS = 5_000;

export interface DeletionContext {
  client: KubeClient;
  children: ChildWriter;
  own: OwnObjects<Database>;
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
      : `deletionPolicy ${policy}: deleting the workload and PersistentVolumeClaims ${names(observed.claims) || '(none)'}`;
    const updated = await ctx.own.updateStatus(db, deletingStatus(db, ctx.now().toISOString(), what));
    await ctx.events.record(updated, { type: 'Normal', reason: 'Deleting', action: 'Delete', note: what });
    if (policy === 'Snapshot') {
      await ctx.events.record(updated, {
        type: 'Warning',
        reason: 'FinalSnapshotSkipped',
        action: 'Delete',
        note: 'deletionPolicy Snapshot takes a final backup before deleting; backups are not available yet, so this deletion took none and deletes the volumes like deletionPolicy Delete',
      });
    }
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
