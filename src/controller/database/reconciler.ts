// The Database reconciler: level-based, it reads the Database and what the cluster holds for it, and converges the
// children on what the engine renders, then reports what it saw in status.
//
//   1. Deletion with the finalizer `strongroom.dev/database`, in kube-rs's four cases of (finalizer present?, being
//      deleted?): add it; converge; run the deletion policy (deletion.ts) and remove it; or nothing.
//   2. `spec.paused`: nothing is written but the status.
//   3. The version to render (version.ts: a major upgrade is refused), membership for engines that change it step
//      by step (membership.ts), then the credentials Secret (created once, never overwritten), every desired object
//      by server-side apply with a controller reference to the Database, role labels on the members of engines
//      with roles, and the init Job once every member is ready.
//   4. Status through the status subresource (status.ts), and Events for what changed.
// A deleted or edited child comes back because the informers on children enqueue their Database.
import { isDeepStrictEqual } from 'node:util';
import type { Backup } from '../../api/backup.ts';
import type { Database } from '../../api/database.ts';
import { validateEngineSpec } from '../../api/engine-spec.ts';
import { invalid } from '../../api/errors.ts';
import { GROUP, type KubeObject, type NamespacedName } from '../../api/meta.ts';
import { childNames, ordinalOf, ROLE_LABEL } from '../../engines/common.ts';
import { randomPassword } from '../../engines/credentials.ts';
import type { Engine, Member } from '../../engines/engine.ts';
import { engineFor } from '../../engines/registry.ts';
import { ChildWriter, type ChildChange } from '../children.ts';
import type { EventInput, EventRecorder } from '../events.ts';
import { ImageCatalogSource } from '../images.ts';
import type { OwnObjects } from '../ownobjects.ts';
import { FIELD_MANAGER, reconcileWithFinalizer, setControllerReference } from '../runtime/apply.ts';
import type { Informer } from '../runtime/cache.ts';
import { isStatusError, type KubeClient } from '../runtime/client.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { resourcePath, resourceTypes } from '../runtime/kinds.ts';
import { cleanup } from './deletion.ts';
import {
  bootstrap,
  encodeMembers,
  MEMBERS_ANNOTATION,
  membershipProgress,
  planMembershipWork,
  recordedMembers,
  recordStep,
  withHealth,
} from './membership.ts';
import { jobState, observe, type ChildInformers, type Observed } from './observed.ts';
import { backupDuties } from './backups.ts';
import { databaseStatus, pausedStatus, restoringStatus, rolloutOf, transitionEvents, type InitState } from './status.ts';
import { chooseVersion, VERSION_ANNOTATION, withVersion } from './version.ts';

export const DATABASE_FINALIZER = 'strongroom.dev/database';
/** Set by an in-place restore that loads into the volumes, to the Restore's name: the members stay stopped meanwhile. */
export const RESTORING_ANNOTATION = 'strongroom.dev/restoring';

export interface DatabaseReconcilerOptions {
  databases: OwnObjects<Database>;
  backups: OwnObjects<Backup>;
  /** Every Backup, from the in-process informer. */
  backupCache: Informer<Backup>;
  client: KubeClient;
  informers: ChildInformers;
  events: EventRecorder;
  generatePassword?: () => string;
  now?: () => Date;
  /** Which image each engine version runs; the engines' defaults when unset. */
  images?: ImageCatalogSource;
}

/** What membership handling decided for this reconcile. */
interface Membership {
  db: Database;
  /** `EngineContext.members`; undefined while bootstrapping. */
  members?: Member[];
  /** The member count to render with (the bootstrap size, or spec.replicas once recorded). */
  replicas: number;
  progress?: string;
}

/**
 * While a restore has the members stopped, scaling to zero must keep their claims: the StatefulSet otherwise deletes
 * the claims of members it scales away (so that removed etcd members leave nothing behind), and these hold the data
 * the restore loads into.
 */
function stopped(statefulSet: KubeObject, restoring: boolean): KubeObject {
  if (!restoring) return statefulSet;
  return { ...statefulSet, spec: { ...statefulSet.spec, persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' } } };
}

export class DatabaseReconciler {
  private readonly databases: OwnObjects<Database>;
  private readonly backups: OwnObjects<Backup>;
  private readonly backupCache: Informer<Backup>;
  private readonly client: KubeClient;
  private readonly informers: ChildInformers;
  private readonly events: EventRecorder;
  private readonly generatePassword: () => string;
  private readonly now: () => Date;
  private readonly children: ChildWriter;
  private readonly images: ImageCatalogSource;

  constructor(options: DatabaseReconcilerOptions) {
    this.databases = options.databases;
    this.backups = options.backups;
    this.backupCache = options.backupCache;
    this.client = options.client;
    this.informers = options.informers;
    this.events = options.events;
    this.generatePassword = options.generatePassword ?? randomPassword;
    this.now = options.now ?? (() => new Date());
    this.children = new ChildWriter(options.client);
    this.images = options.images ?? new ImageCatalogSource({});
  }

  readonly reconcile = async (key: NamespacedName, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const db = await this.databases.get(key.namespace, key.name);
    // Gone: its children go with it (garbage collection by owner reference).
    if (!db) return;
    return reconcileWithFinalizer(this.databases, DATABASE_FINALIZER, db, {
      apply: (live) => this.convergeReporting(live, signal),
      cleanup: async (deleting) => {
        const deletion = {
          client: this.client,
          children: this.children,
          own: this.databases,
          backups: this.backups,
          backupCache: this.backupCache,
          events: this.events,
          now: this.now,
        };
        const result = await cleanup(deletion, deleting, observe(this.informers, deleting), signal);
        return result?.requeueAfter ? { done: false, requeueAfter: result.requeueAfter } : { done: true };
      },
    });
  };

  private async convergeReporting(db: Database, signal: AbortSignal): Promise<ReconcileResult | void> {
    try {
      return await this.converge(db, signal);
    } catch (err) {
      // Retried with backoff by the controller; the Event tells the Database's owner why nothing moves meanwhile (a
      // missing permission, a full Service IP range...). Repeats count up in one Event's series. A conflict is only
      // a concurrent write, retried at once: not worth a Warning.
      if (!signal.aborted && !isStatusError(err, 409)) {
        const note = `reconcile failed, retrying: ${err instanceof Error ? err.message : String(err)}`;
        await this.events.record(db, { type: 'Warning', reason: 'ReconcileFailed', action: 'Reconcile', note });
      }
      throw err;
    }
  }

  private async converge(db: Database, signal: AbortSignal): Promise<ReconcileResult | void> {
    const observed = observe(this.informers, db);
    const now = this.now().toISOString();
    if (db.spec.paused) return this.writeStatus(db, pausedStatus(db, observed.statefulSet, now));
    const engine = engineFor(db.spec.engine);
    const choice = chooseVersion(engine, db, observed.statefulSet);
    // Admission checks the same rules, so only a Database stored before a rule existed gets here. Nothing is
    // retried: the next change of the spec brings the key back.
    const refused = validateEngineSpec(db.spec, 'spec');
    if (refused.length > 0) {
      const message = invalid('Database', GROUP, db.metadata.name!, refused).message;
      return this.writeStatus(db, databaseStatus({ db, now, statefulSet: observed.statefulSet, published: undefined, invalid: message, renderedVersion: choice.version }));
    }
    // An in-place restore that loads data into the volumes stops the members first (restore/reconciler.ts); the
    // recorded membership stays as it is meanwhile, since stopped members would look like failed ones.
    const restoring = db.metadata.annotations?.[RESTORING_ANNOTATION];
    const image = this.images.imageFor(engine, db, choice.version);
    const membership: Membership = !engine.membership
      ? { db, replicas: db.spec.replicas ?? 1 }
      : restoring
        ? { db, members: withHealth(recordedMembers(db) ?? [], []), replicas: db.spec.replicas ?? 1 }
        : await this.membership(engine, db, observed, image, signal);
    db = membership.db;
    const replicas = restoring ? 0 : membership.replicas;
    const rendered: Database = { ...db, spec: { ...db.spec, version: choice.version, replicas } };
    const credentials = await this.readCredentials(db, signal);

    const desired = engine.desired(rendered, {
      credentials,
      generatePassword: this.generatePassword,
      statefulSet: observed.statefulSet,
      members: membership.members,
      image,
    });

    const changes = new Map<ChildChange, string[]>();
    const note = (change: ChildChange | undefined, obj: KubeObject): void => {
      if (change) changes.set(change, [...(changes.get(change) ?? []), `${obj.kind} ${obj.metadata.name}`]);
    };
    note(await this.writeCredentials(db, desired.credentials, credentials, signal), desired.credentials);
    let statefulSet = observed.statefulSet;
    for (const obj of desired.objects) {
      const child = setControllerReference(obj.kind === 'StatefulSet' ? stopped(withVersion(obj, choice.version), !!restoring) : obj, db);
      const { object, change } = await this.children.apply(child, observed.live(obj.kind, obj.metadata.name!), signal);
      note(change, obj);
      if (obj.kind === 'StatefulSet') statefulSet = object;
    }
    if (engine.memberRole) await this.labelRoles(engine.memberRole, observed.pods, signal);
    const init = desired.initJob && !restoring ? await this.initJob(db, desired.initJob, observed, statefulSet, membership, signal) : undefined;

    const events: EventInput[] = [];
    for (const [change, what] of changes) {
      const reason = change === 'created' ? 'Created' : change === 'recreated' ? 'Recreated' : 'Updated';
      const verb = change === 'recreated' ? 'Recreated, after it had been deleted,' : reason;
      events.push({ type: 'Normal', reason, action: 'Apply', note: `${verb} ${what.join(', ')}` });
    }
    events.push(...this.workloadEvents(engine, observed.statefulSet, statefulSet, choice.version));
    const computed = databaseStatus({
      db,
      now,
      statefulSet,
      published: desired.status,
      renderedVersion: choice.version,
      renderedImage: image,
      refusedVersion: choice.refused,
      init,
      membership: membership.progress,
    });
    return this.writeStatus(db, restoring ? restoringStatus(computed, db, restoring, now) : computed, events);
  }

  /**
   * Writes `status` (with what the Database's backups say, see backups.ts) when it differs from the stored one, with
   * the Events of what changed and of its transitions; takes the scheduled backup that is due and expires old ones.
   */
  private async writeStatus(db: Database, computed: NonNullable<Database['status']>, events: EventInput[] = []): Promise<ReconcileResult | void> {
    const duties = backupDuties(db, this.backupCache.list(db.metadata.namespace), computed, this.now());
    if (duties.scheduled) await this.takeScheduledBackup(db, duties.scheduled);
    for (const backup of duties.expired) {
      await this.backups.delete(backup);
      events.push({ type: 'Normal', reason: 'BackupExpired', action: 'Delete', note: `Deleted Backup ${backup.metadata.name}: spec.backup.retention no longer keeps it` });
    }
    // As it will be stored (no undefined members), so an unchanged status compares equal and is not written again.
    const status = JSON.parse(JSON.stringify(duties.status)) as NonNullable<Database['status']>;
    const written = isDeepStrictEqual(status, db.status) ? db : await this.databases.updateStatus(db, status);
    for (const event of [...events, ...transitionEvents(db.status, status)]) await this.events.record(written, event);
    if (duties.nextRun) return { requeueAfter: Math.max(1000, duties.nextRun.getTime() - this.now().getTime()) };
  }

  private async takeScheduledBackup(db: Database, backup: Backup): Promise<void> {
    try {
      await this.backups.create(backup);
    } catch (err) {
      // This run's Backup exists already: an earlier reconcile created it and its status write was lost.
      if (isStatusError(err, 409)) return;
      throw err;
    }
    await this.events.record(db, { type: 'Normal', reason: 'ScheduledBackup', action: 'Backup', note: `Created Backup ${backup.metadata.name} (spec.backup.schedule ${db.spec.backup?.schedule})` });
  }

  /** The credentials Secret as the API has it now (not a cache: its passwords must never be regenerated). */
  private async readCredentials(db: Database, signal: AbortSignal): Promise<KubeObject | undefined> {
    try {
      return await this.client.request<KubeObject>('GET', resourcePath(resourceTypes.Secret, db.metadata.namespace, childNames(db).credentials), { signal });
    } catch (err) {
      if (isStatusError(err, 404)) return undefined;
      throw err;
    }
  }

  /**
   * A missing credentials Secret is created with POST: if it exists after all, the 409 fails this reconcile, and the
   * next one reads the passwords in use. An existing one is applied like any child (it only gains missing keys).
   */
  private async writeCredentials(db: Database, secret: KubeObject, existing: KubeObject | undefined, signal: AbortSignal): Promise<ChildChange | undefined> {
    const owned = setControllerReference(secret, db);
    if (existing) return (await this.children.apply(owned, this.informers.Secret.get(db.metadata.namespace, secret.metadata.name!), signal)).change;
    await this.client.request('POST', resourcePath(resourceTypes.Secret, db.metadata.namespace), {
      query: { fieldManager: FIELD_MANAGER },
      body: owned,
      signal,
    });
    // Said at once: a failure later in this reconcile must not hide that the passwords now exist.
    await this.events.record(db, { type: 'Normal', reason: 'Created', action: 'Create', note: `Created Secret ${secret.metadata.name} with generated passwords` });
    return undefined;
  }

  /** Keeps `strongroom.dev/role` on each member pod, as the engine names its role. */
  private async labelRoles(memberRole: (podName: string) => string, pods: readonly KubeObject[], signal: AbortSignal): Promise<void> {
    for (const pod of pods) {
      const name = pod.metadata.name!;
      if (pod.metadata.deletionTimestamp || ordinalOf(name) === undefined) continue;
      const role = memberRole(name);
      if (pod.metadata.labels?.[ROLE_LABEL] === role) continue;
      try {
        await this.client.request('PATCH', resourcePath(resourceTypes.Pod, pod.metadata.namespace, name), {
          query: { fieldManager: FIELD_MANAGER },
          body: { metadata: { labels: { [ROLE_LABEL]: role } } },
          contentType: 'application/merge-patch+json',
          signal,
        });
      } catch (err) {
        // Deleted meanwhile: its replacement is labelled when its own event arrives.
        if (!isStatusError(err, 404)) throw err;
      }
    }
  }

  /** First-time setup: created once every member is ready, then left alone as the record that it ran. */
  private async initJob(
    db: Database,
    job: KubeObject,
    observed: Observed,
    statefulSet: KubeObject | undefined,
    membership: Membership,
    signal: AbortSignal,
  ): Promise<{ state: InitState; jobName: string }> {
    const jobName = job.metadata.name!;
    const live = observed.live('Job', jobName);
    if (live) return { state: jobState(live), jobName };
    const rollout = statefulSet && rolloutOf(statefulSet);
    const membersReady = rollout && rollout.updated && rollout.readyReplicas === rollout.specReplicas && rollout.specReplicas === membership.replicas;
    if (!membersReady || membership.progress) return { state: 'waiting', jobName };
    await this.children.apply(setControllerReference(job, db), undefined, signal);
    await this.events.record(db, { type: 'Normal', reason: 'Initializing', action: 'Create', note: `Created Job ${jobName} for first-time setup` });
    return { state: 'running', jobName };
  }

  /**
   * Records the bootstrap members once they form a cluster, records and removes finished membership Jobs, and
   * starts the Job of the next step towards spec.replicas.
   */
  private async membership(engine: Engine, db: Database, observed: Observed, image: string, signal: AbortSignal): Promise<Membership> {
    const hooks = engine.membership!;
    let recorded = recordedMembers(db);
    if (!recorded) {
      const { size, formed } = bootstrap(hooks, db, observed.statefulSet, observed.pods);
      if (!formed) return { db, replicas: size, progress: size === (db.spec.replicas ?? 1) ? undefined : `bootstrapping ${size} members first` };
      db = await this.recordMembers(db, formed);
      recorded = formed;
    }
    const plan = planMembershipWork(hooks, db, recorded, observed.pods, observed.jobs, image);
    for (const { job, step, state } of plan.finished) {
      if (state === 'complete') {
        db = await this.recordMembers(db, recordStep(recordedMembers(db)!, step));
        const verb = step.action === 'add' ? 'Added' : step.action === 'promote' ? 'Promoted' : 'Removed';
        await this.events.record(db, { type: 'Normal', reason: `Member${verb}`, action: 'Scale', note: `${verb} ${engine.name} member ${step.member} (Job ${job.metadata.name})` });
      } else {
        await this.events.record(db, {
          type: 'Warning',
          reason: 'MembershipJobFailed',
          action: 'Scale',
          note: `Job ${job.metadata.name} failed to ${step.action} member ${step.member}; trying again with a new Job`,
        });
      }
      await this.children.delete(job, signal);
    }
    if (plan.job && !plan.inFlight) {
      await this.children.apply(setControllerReference(plan.job, db), undefined, signal);
      await this.events.record(db, {
        type: 'Normal',
        reason: 'MembershipChange',
        action: 'Scale',
        note: `Created Job ${plan.job.metadata.name} to ${plan.next.action} ${engine.name} member ${'member' in plan.next ? plan.next.member : ''}`,
      });
    }
    return { db, members: withHealth(recordedMembers(db)!, observed.pods), replicas: db.spec.replicas ?? 1, progress: membershipProgress(plan) };
  }

  private async recordMembers(db: Database, members: Parameters<typeof encodeMembers>[0]): Promise<Database> {
    const value = encodeMembers(members);
    const current = db.metadata.annotations?.[MEMBERS_ANNOTATION];
    if (current === value) return db;
    const path = `/metadata/annotations${db.metadata.annotations ? `/${MEMBERS_ANNOTATION.replace('/', '~1')}` : ''}`;
    return this.databases.patch(db, [
      // Guarded by the record as read: two writers of membership can never both succeed.
      { op: 'test', path: '/metadata/resourceVersion', value: db.metadata.resourceVersion },
      { op: 'add', path, value: db.metadata.annotations ? value : { [MEMBERS_ANNOTATION]: value } },
    ]);
  }

  /** Scaling and version rollouts, judged by the StatefulSet before and after this reconcile's apply. */
  private workloadEvents(engine: Engine, before: KubeObject | undefined, after: KubeObject | undefined, version: string): EventInput[] {
    if (!before || !after) return [];
    const events: EventInput[] = [];
    const [from, to] = [before.spec?.replicas, after.spec?.replicas];
    if (from !== to) events.push({ type: 'Normal', reason: 'Scaling', action: 'Scale', note: `Scaling the StatefulSet from ${from} to ${to} members` });
    const previous = before.metadata.annotations?.[VERSION_ANNOTATION];
    if (previous !== undefined && previous !== version) {
      events.push({ type: 'Normal', reason: 'RollingUpdate', action: 'Upgrade', note: `Rolling the members from ${engine.name} ${previous} to ${version}` });
    }
    return events;
  }
}

