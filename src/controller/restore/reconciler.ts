// The Restore reconciler runs the plan of src/api/restore-plan.ts one step at a time, each step recorded in status
// before and after it acts, so a restart (or a new leader) resumes at the step it was on:
//
//   SafetyBackup    a PreRestore Backup of the target's current data; the restore waits for it to complete.
//   CreateDatabase  the new Database, with the source's spec as the backup recorded it. Loading into volumes: created
//                   stopped (annotation strongroom.dev/restoring), its data claims created here, and the source's
//                   credentials copied, because a volume archive carries the passwords it was made with.
//   StopDatabase    annotation strongroom.dev/restoring on the Database: its reconciler scales the members to zero;
//                   the step ends when no member pod is left.
//   LoadData        the agent Jobs of src/controller/backup/agentjob.ts (one over the network when the engine loads
//                   over a connection, else one per member volume); each verifies the archive's digest before it
//                   changes anything.
//   StartDatabase   the annotation goes: the members start on the restored data.
//   WaitReady       the Database reports Ready.
// A failed step fails the Restore and says in failureReason what state the database is in and how to go on. Deleting
// the Restore (finalizer strongroom.dev/restore) stops its Jobs and starts a database it had stopped.
import type { Operation } from 'fast-json-patch';
import type { Backup } from '../../api/backup.ts';
import type { Database } from '../../api/database.ts';
import type { KubeObject, NamespacedName } from '../../api/meta.ts';
import { GROUP_VERSION } from '../../api/meta.ts';
import type { Restore, RestoreStatus } from '../../api/restore.ts';
import { loadMode, planRestore, type RestorePlan, type RestoreStepName } from '../../api/restore-plan.ts';
import { childNames, DATA_VOLUME, DATABASE_LABEL } from '../../engines/common.ts';
import { engineFor } from '../../engines/registry.ts';
import type { AgentAccess } from '../backup/agentaccess.ts';
import { agentLabelValue, restoreJobs, RESTORE_LABEL, type AgentSettings } from '../backup/agentjob.ts';
import { agentOutcome } from '../backup/outcome.ts';
import type { ChildWriter } from '../children.ts';
import { setCondition } from '../conditions.ts';
import { newBackup } from '../database/backups.ts';
import { observe, podReady, type ChildInformers } from '../database/observed.ts';
import { RESTORING_ANNOTATION } from '../database/reconciler.ts';
import type { EventRecorder } from '../events.ts';
import type { OwnObjects } from '../ownobjects.ts';
import { FIELD_MANAGER, reconcileWithFinalizer, setControllerReference } from '../runtime/apply.ts';
import type { Informer } from '../runtime/cache.ts';
import { isStatusError, type KubeClient } from '../runtime/client.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { resourcePath, resourceTypes } from '../runtime/kinds.ts';
import { currentStep, withStep, type Step } from './steps.ts';

export const RESTORE_FINALIZER = 'strongroom.dev/restore';
/** On a Database a restore created: the Backup it was seeded from. */
export const RESTORED_FROM_ANNOTATION = 'strongroom.dev/restored-from';

/** How often a step that waits on something outside the informers' view looks again. */
const POLL_MS = 5_000;

export interface RestoreReconcilerOptions {
  restores: OwnObjects<Restore>;
  /** Every Restore, from the in-process informer. */
  restoreCache: Informer<Restore>;
  backups: OwnObjects<Backup>;
  databases: OwnObjects<Database>;
  client: KubeClient;
  informers: ChildInformers;
  children: ChildWriter;
  access: AgentAccess;
  agent: AgentSettings;
  events: EventRecorder;
  now?: () => Date;
}

/** What a step did: finished (Completed or Skipped) with a message, or still waiting. */
type StepResult = { done: true; message: string; skipped?: boolean } | { done: false; message?: string; requeueAfter?: number };

class StepFailed extends Error {
  override name = 'StepFailed';
}

function finished(restore: Restore): boolean {
  const phase = restore.status?.phase;
  return phase === 'Completed' || phase === 'Failed';
}

export class RestoreReconciler {
  private readonly options: RestoreReconcilerOptions;
  private readonly now: () => Date;

  constructor(options: RestoreReconcilerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  readonly reconcile = async (key: NamespacedName, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const { restores } = this.options;
    const restore = await restores.get(key.namespace, key.name);
    if (!restore) return;
    return reconcileWithFinalizer(restores, RESTORE_FINALIZER, restore, {
      // A finished Restore has nothing left to undo.
      wanted: (live) => !finished(live),
      apply: (live) => (finished(live) ? Promise.resolve() : this.start(live, signal)),
      cleanup: async (deleting) => {
        await this.finalize(deleting, signal);
        return { done: true };
      },
    });
  };

  /** Plans a restore that has not started, then works on its steps. */
  private async start(restore: Restore, signal: AbortSignal): Promise<ReconcileResult | void> {
    const namespace = restore.metadata.namespace!;
    const backup = await this.options.backups.get(namespace, restore.spec.backupName);
    if (!restore.status?.steps) {
      if (!backup || backup.status?.phase !== 'Completed') {
        return this.fail(restore, `Backup ${restore.spec.backupName} ${backup ? `is ${backup.status?.phase ?? 'Pending'}, not Completed` : 'does not exist'}`);
      }
      const busy = this.otherRestore(restore);
      if (busy) {
        await this.write(restore, { ...restore.status, phase: 'Pending' }, 'Waiting', `Restore ${busy} of the same database runs first`);
        return { requeueAfter: POLL_MS };
      }
      const source = await this.options.databases.get(namespace, restore.spec.databaseName);
      const plan = planRestore(restore, backup, source);
      const steps: Step[] = plan.steps.map((step) => ({ name: step.name, phase: 'Pending', message: step.description }));
      const status: RestoreStatus = { ...restore.status, phase: 'Running', startTime: this.now().toISOString(), steps, plan };
      restore = await this.write(restore, status, 'Running', `restoring Backup ${backup.metadata.name} into Database ${plan.targetDatabase}`);
      await this.options.events.record(restore, { type: 'Normal', reason: 'Started', action: 'Restore', note: `Restoring Backup ${backup.metadata.name} into Database ${plan.targetDatabase}: ${plan.steps.map((s) => s.name).join(', ')}` });
    }
    if (!backup) return this.fail(restore, `Backup ${restore.spec.backupName} was deleted during the restore`);
    return this.advance(restore, backup, signal);
  }

  /** Works on the current step; moves to the next at once when it finishes. */
  private async advance(restore: Restore, backup: Backup, signal: AbortSignal): Promise<ReconcileResult | void> {
    for (;;) {
      const step = currentStep(restore.status?.steps);
      if (!step) return this.complete(restore);
      const name = step.name as RestoreStepName;
      if (step.phase === 'Pending') {
        restore = await this.writeSteps(restore, withStep(restore.status!.steps!, name, 'Running', this.now().toISOString()));
        await this.options.events.record(restore, { type: 'Normal', reason: name, action: 'Restore', note: `Step ${name} started` });
      }
      let result: StepResult;
      try {
        result = await this.run(name, restore, backup, signal);
      } catch (err) {
        if (!(err instanceof StepFailed)) throw err;
        const failed = await this.writeSteps(restore, withStep(restore.status!.steps!, name, 'Failed', this.now().toISOString(), err.message));
        return this.fail(failed, `step ${name} failed: ${err.message}`);
      }
      if (!result.done) {
        if (result.message && result.message !== step.message) {
          await this.writeSteps(restore, withStep(restore.status!.steps!, name, 'Running', this.now().toISOString(), result.message));
        }
        return result.requeueAfter ? { requeueAfter: result.requeueAfter } : undefined;
      }
      restore = await this.writeSteps(restore, withStep(restore.status!.steps!, name, result.skipped ? 'Skipped' : 'Completed', this.now().toISOString(), result.message));
    }
  }

  private run(name: RestoreStepName, restore: Restore, backup: Backup, signal: AbortSignal): Promise<StepResult> {
    switch (name) {
      case 'SafetyBackup':
        return this.safetyBackup(restore);
      case 'CreateDatabase':
        return this.createDatabase(restore, backup, signal);
      case 'StopDatabase':
        return this.stopDatabase(restore);
      case 'LoadData':
        return this.loadData(restore, backup, signal);
      case 'StartDatabase':
        return this.startDatabase(restore);
      case 'WaitReady':
        return this.waitReady(restore);
    }
  }

  private plan(restore: Restore): RestorePlan {
    return restore.status!.plan as RestorePlan;
  }

  private async target(restore: Restore): Promise<Database> {
    const name = this.plan(restore).targetDatabase;
    const db = await this.options.databases.get(restore.metadata.namespace, name);
    if (!db) throw new StepFailed(`Database ${name} does not exist`);
    return db;
  }

  private async safetyBackup(restore: Restore): Promise<StepResult> {
    const db = await this.target(restore);
    const name = restore.status?.safetyBackupName ?? `${restore.metadata.name}-safety`;
    let backup = await this.options.backups.get(restore.metadata.namespace, name);
    if (!backup) {
      try {
        backup = await this.options.backups.create(newBackup(db, name, 'PreRestore'));
      } catch (err) {
        if (!isStatusError(err, 409)) throw err;
      }
      await this.write(restore, { ...restore.status, safetyBackupName: name }, 'Running', `taking the safety Backup ${name}`);
      return { done: false, message: `Backup ${name} of the current data is being taken` };
    }
    if (backup.status?.phase === 'Completed') return { done: true, message: `Backup ${name} holds the data as it was before the restore` };
    if (backup.status?.phase === 'Failed') {
      throw new StepFailed(`the safety Backup ${name} failed (${backup.status.failureReason ?? 'no reason given'}); Database ${db.metadata.name} was not changed`);
    }
    return { done: false, message: `Backup ${name} of the current data is ${backup.status?.phase ?? 'Pending'}` };
  }

  private async createDatabase(restore: Restore, backup: Backup, signal: AbortSignal): Promise<StepResult> {
    const plan = this.plan(restore);
    const namespace = restore.metadata.namespace!;
    const volumes = loadMode(backup.status?.engine ?? '', backup.status?.method ?? backup.spec.method ?? '') === 'volumes';
    let db = await this.options.databases.get(namespace, plan.targetDatabase);
    if (!db) {
      const spec = structuredClone((backup.status?.databaseSpec ?? {}) as Database['spec']);
      const annotations: Record<string, string> = { [RESTORED_FROM_ANNOTATION]: backup.metadata.name! };
      if (volumes) {
        annotations[RESTORING_ANNOTATION] = restore.metadata.name!;
        await this.copyCredentials(restore, backup, plan.targetDatabase, signal);
      }
      const created: Database = {
        apiVersion: GROUP_VERSION,
        kind: 'Database',
        metadata: { name: plan.targetDatabase, namespace, annotations },
        spec,
      };
      try {
        db = await this.options.databases.create(created);
      } catch (err) {
        if (isStatusError(err, 422)) throw new StepFailed(`the backup's database spec is not valid now: ${(err as Error).message}`);
        throw err;
      }
      await this.options.events.record(restore, { type: 'Normal', reason: 'Created', action: 'Restore', note: `Created Database ${plan.targetDatabase}` });
    } else if (db.metadata.annotations?.[RESTORED_FROM_ANNOTATION] !== backup.metadata.name) {
      throw new StepFailed(`Database ${plan.targetDatabase} exists already and was not created by this restore`);
    }
    if (!volumes) {
      return db.status?.phase === 'Ready' ? { done: true, message: `Database ${plan.targetDatabase} is ready for the data` } : { done: false, message: `waiting for Database ${plan.targetDatabase} to become ready` };
    }
    // Stopped from the start: the StatefulSet exists with no members; the claims it would make get the archive first.
    const observed = observe(this.options.informers, db);
    const statefulSet = observed.statefulSet;
    if (!statefulSet) return { done: false, message: `waiting for the StatefulSet of Database ${plan.targetDatabase}` };
    for (const claim of dataClaims(db, statefulSet)) {
      if (observed.live('PersistentVolumeClaim', claim.metadata.name!)) continue;
      try {
        await this.options.client.request('POST', resourcePath(resourceTypes.PersistentVolumeClaim, namespace), { query: { fieldManager: FIELD_MANAGER }, body: claim, signal });
      } catch (err) {
        if (!isStatusError(err, 409)) throw err;
      }
    }
    return { done: true, message: `Database ${plan.targetDatabase} created stopped, with its data volumes` };
  }

  /** The source's passwords for a new Database whose volumes receive an archive made with them. */
  private async copyCredentials(restore: Restore, backup: Backup, target: string, signal: AbortSignal): Promise<void> {
    const namespace = restore.metadata.namespace!;
    const source = backup.spec.databaseName;
    let secret: KubeObject;
    try {
      secret = await this.options.client.request<KubeObject>('GET', resourcePath(resourceTypes.Secret, namespace, `${source}-credentials`), { signal });
    } catch (err) {
      if (!isStatusError(err, 404)) throw err;
      throw new StepFailed(
        `the archive of Backup ${backup.metadata.name} holds the passwords of Database ${source}, whose Secret ${source}-credentials is gone: create Secret ${target}-credentials with them, then delete and recreate this Restore`,
      );
    }
    const copy: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${target}-credentials`, namespace, labels: { [DATABASE_LABEL]: target, 'app.kubernetes.io/managed-by': 'strongroom' } },
      type: secret.type,
      data: secret.data,
    };
    try {
      await this.options.client.request('POST', resourcePath(resourceTypes.Secret, namespace), { query: { fieldManager: FIELD_MANAGER }, body: copy, signal });
    } catch (err) {
      if (!isStatusError(err, 409)) throw err;
    }
  }

  private async stopDatabase(restore: Restore): Promise<StepResult> {
    let db = await this.target(restore);
    const holder = db.metadata.annotations?.[RESTORING_ANNOTATION];
    if (holder !== restore.metadata.name) {
      if (holder) throw new StepFailed(`Restore ${holder} has stopped Database ${db.metadata.name}`);
      db = await this.options.databases.patch(db, annotate(db, restore.metadata.name!));
    }
    const observed = observe(this.options.informers, db);
    if (observed.pods.length > 0) return { done: false, message: `waiting for ${observed.pods.length} member pods to stop`, requeueAfter: POLL_MS };
    // Members the engine does not restore copy the restored ones when they start, which some engines do only on an
    // empty volume: their claims go, and they clone the restored members afresh.
    const plan = this.plan(restore);
    const engine = engineFor(db.spec.engine);
    if (plan.backup.method && engine.backup.clearsOtherMembers(plan.backup.method)) {
      const restored = engine.backup.restoredMembers(plan.backup.method, db.spec.replicas ?? 1);
      const kept = new Set(Array.from({ length: restored }, (_, ordinal) => `${DATA_VOLUME}-${childNames(db).statefulSet}-${ordinal}`));
      for (const claim of observed.claims) {
        if (!kept.has(claim.metadata.name!) && claim.metadata.name?.startsWith(`${DATA_VOLUME}-`) && !claim.metadata.deletionTimestamp) {
          await this.options.children.delete(claim);
        }
      }
    }
    return { done: true, message: `Database ${db.metadata.name} is stopped` };
  }

  private async loadData(restore: Restore, backup: Backup, signal: AbortSignal): Promise<StepResult> {
    const db = await this.target(restore);
    const plan = this.plan(restore);
    const members = db.spec.replicas ?? 1;
    const restoreRole = engineFor(db.spec.engine).agent.restoreRole;
    const role = plan.newDatabase && restoreRole ? restoreRole(db) : undefined;
    const jobs = restoreJobs(restore, backup, db, this.options.agent, { members, ...(role ? { role } : {}) });
    const { informers, children } = this.options;
    const namespace = restore.metadata.namespace!;
    const pods = informers.Pod.list(namespace);
    let running = 0;
    for (const job of jobs) {
      const live = informers.Job.get(namespace, job.metadata.name!);
      if (!live) {
        await this.options.access.ensure(namespace, signal);
        await children.apply(setControllerReference(job, restore), undefined, signal);
        running++;
        continue;
      }
      const outcome = agentOutcome(live, pods);
      if (outcome.state === 'failed') {
        const state = loadMode(backup.status?.engine ?? '', backup.status?.method ?? '') === 'connection'
          ? `the load runs in one transaction, so Database ${db.metadata.name} still holds its data from before`
          : `Database ${db.metadata.name} stays stopped with partly restored volumes${restore.status?.safetyBackupName ? `; Backup ${restore.status.safetyBackupName} holds its data from before` : ''}. Create a new Restore to try again, or delete this one to start the database as it is`;
        throw new StepFailed(`${outcome.failure}; ${state}`);
      }
      if (outcome.state === 'running') running++;
    }
    if (running > 0) return { done: false, message: `${running} of ${jobs.length} agent Jobs loading Backup ${backup.metadata.name}` };
    for (const job of jobs) await children.delete(job, signal);
    return { done: true, message: `Backup ${backup.metadata.name} (sha256 ${backup.status?.sha256}) loaded by ${jobs.length} agent Job${jobs.length === 1 ? '' : 's'}` };
  }

  private async startDatabase(restore: Restore): Promise<StepResult> {
    const db = await this.target(restore);
    await this.release(db, restore);
    return { done: true, message: `Database ${db.metadata.name} is starting on the restored data` };
  }

  private async waitReady(restore: Restore): Promise<StepResult> {
    const db = await this.target(restore);
    const observed = observe(this.options.informers, db);
    const ready = db.status?.phase === 'Ready' && !db.metadata.annotations?.[RESTORING_ANNOTATION] && observed.pods.some(podReady);
    return ready ? { done: true, message: `Database ${db.metadata.name} is Ready` } : { done: false, message: `waiting for Database ${db.metadata.name} to become Ready (${db.status?.phase ?? 'Pending'})` };
  }

  private async complete(restore: Restore): Promise<void> {
    const plan = this.plan(restore);
    const status: RestoreStatus = { ...restore.status, phase: 'Completed', completionTime: this.now().toISOString() };
    const written = await this.write(restore, status, 'Completed', `Database ${plan.targetDatabase} serves the data of Backup ${plan.backup.name}`);
    await this.options.events.record(written, { type: 'Normal', reason: 'Completed', action: 'Restore', note: `Database ${plan.targetDatabase} serves the data of Backup ${plan.backup.name}` });
  }

  private async fail(restore: Restore, reason: string): Promise<void> {
    const status: RestoreStatus = { ...restore.status, phase: 'Failed', failureReason: reason, completionTime: this.now().toISOString() };
    const written = await this.write(restore, status, 'Failed', reason);
    await this.options.events.record(written, { type: 'Warning', reason: 'Failed', action: 'Restore', note: reason });
  }

  /** Another unfinished Restore into the same target Database, which this one waits for. */
  private otherRestore(restore: Restore): string | undefined {
    const target = targetOf(restore);
    return this.options.restoreCache
      .list(restore.metadata.namespace)
      .find((other) => other.metadata.name !== restore.metadata.name && other.status?.phase === 'Running' && targetOf(other) === target)?.metadata.name;
  }

  /** The database this restore stopped starts again, as it is; its Jobs go with it (owner references). */
  private async finalize(restore: Restore, signal: AbortSignal): Promise<void> {
    const plan = restore.status?.plan as RestorePlan | undefined;
    if (plan) {
      for (const job of this.options.informers.Job.list(restore.metadata.namespace).filter((j) => j.metadata.labels?.[RESTORE_LABEL] === agentLabelValue(restore.metadata.name!))) {
        await this.options.children.delete(job, signal);
      }
      const db = await this.options.databases.get(restore.metadata.namespace, plan.targetDatabase);
      if (db) await this.release(db, restore);
    }
  }

  /** Removes this restore's stop annotation from `db`, if it holds it. */
  private async release(db: Database, restore: Restore): Promise<void> {
    if (db.metadata.annotations?.[RESTORING_ANNOTATION] !== restore.metadata.name) return;
    await this.options.databases.patch(db, [
      { op: 'test', path: '/metadata/resourceVersion', value: db.metadata.resourceVersion },
      { op: 'remove', path: `/metadata/annotations/${RESTORING_ANNOTATION.replace('/', '~1')}` },
    ]);
  }

  private writeSteps(restore: Restore, steps: Step[]): Promise<Restore> {
    return this.write(restore, { ...restore.status, steps }, restore.status?.phase ?? 'Running');
  }

  private write(restore: Restore, status: RestoreStatus, phaseOrReason: string, message?: string): Promise<Restore> {
    const conditions =
      message === undefined
        ? status.conditions
        : setCondition(
            status.conditions,
            {
              type: 'Complete',
              status: status.phase === 'Completed' ? 'True' : 'False',
              observedGeneration: restore.metadata.generation,
              reason: phaseOrReason,
              message,
            },
            this.now().toISOString(),
          );
    return this.options.restores.updateStatus(restore, JSON.parse(JSON.stringify({ ...status, conditions })) as RestoreStatus);
  }
}

function targetOf(restore: Restore): string {
  return restore.spec.target?.newDatabase?.name ?? restore.spec.databaseName;
}

/** The guarded patch that sets the stop annotation. */
function annotate(db: Database, restore: string): Operation[] {
  const has = db.metadata.annotations !== undefined;
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: db.metadata.resourceVersion },
    has
      ? { op: 'add', path: `/metadata/annotations/${RESTORING_ANNOTATION.replace('/', '~1')}`, value: restore }
      : { op: 'add', path: '/metadata/annotations', value: { [RESTORING_ANNOTATION]: restore } },
  ];
}

/** The claims the StatefulSet would create for each member, created ahead of it so the archive can go in first. */
function dataClaims(db: Database, statefulSet: KubeObject): KubeObject[] {
  const template = ((statefulSet.spec?.volumeClaimTemplates ?? []) as KubeObject[]).find((t) => t.metadata.name === DATA_VOLUME);
  if (!template) return [];
  const name = childNames(db).statefulSet;
  const selector = (statefulSet.spec?.selector?.matchLabels ?? {}) as Record<string, string>;
  return Array.from({ length: db.spec.replicas ?? 1 }, (_, ordinal) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: `${DATA_VOLUME}-${name}-${ordinal}`,
      namespace: db.metadata.namespace,
      labels: { ...template.metadata.labels, ...selector },
    },
    spec: template.spec,
  }));
}
