// The Backup reconciler: one Backup, one agent Job, one archive.
//
//   Pending    the Database has no ready member yet (requeued), or the Job is created: status records the method and
//              the Database's spec as it is now (repository, encryption), which later restores and the archive's
//              deletion use whatever becomes of the Database.
//   Running    the agent reports it, with progress, through the status subresource.
//   Completed  the agent reports it with size, digest and location; when it could not reach the API, the controller
//              takes the same line from the pod's termination message. A Job that succeeded without a complete
//              archive gives Failed: Completed is never claimed without a digest.
//   Failed     the Job failed (its pods exhausted backoffLimit, hit activeDeadlineSeconds or were killed) or vanished
//              while running; the agent removes what it had written, and failureReason says why.
// A finished Job is deleted when the Backup completed and kept (its pod logs) when it failed. Deleting the Backup runs
// an agent Job that deletes the archive first (finalizer strongroom.dev/backup).
import type { Backup, BackupStatus } from '../../api/backup.ts';
import type { Database } from '../../api/database.ts';
import { engineFor } from '../../engines/registry.ts';
import type { KubeObject, NamespacedName } from '../../api/meta.ts';
import type { ChildWriter } from '../children.ts';
import { setCondition } from '../conditions.ts';
import type { EventRecorder } from '../events.ts';
import type { OwnObjects } from '../ownobjects.ts';
import { reconcileWithFinalizer, setControllerReference, type Cleanup } from '../runtime/apply.ts';
import type { Informer } from '../runtime/cache.ts';
import { isStatusError, type KubeClient } from '../runtime/client.ts';
import { resourcePath, resourceTypes } from '../runtime/kinds.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import type { AgentAccess } from './agentaccess.ts';
import { agentJobName, archiveDeleteJob, backupJob, type AgentSettings } from './agentjob.ts';
import { agentOutcome, archiveResult } from './outcome.ts';
import { ensureRepositoryClaim } from './repositoryclaim.ts';

export const BACKUP_FINALIZER = 'strongroom.dev/backup';

/** How often a Backup waiting for its Database to become ready looks again (the Database's changes also wake it). */
const WAIT_FOR_DATABASE_MS = 15_000;
/** How soon a failed archive deletion is tried again. */
const RETRY_DELETE_MS = 60_000;

export interface BackupReconcilerOptions {
  backups: OwnObjects<Backup>;
  databases: OwnObjects<Database>;
  client: KubeClient;
  jobs: Informer;
  pods: Informer;
  children: ChildWriter;
  access: AgentAccess;
  agent: AgentSettings;
  events: EventRecorder;
  now?: () => Date;
}

/** A Job the namespace's termination refuses: nothing new may be created there any more. */
function namespaceTerminating(err: unknown): boolean {
  return isStatusError(err, 403) && /being terminated/.test((err as Error).message);
}

export class BackupReconciler {
  private readonly options: BackupReconcilerOptions;
  private readonly now: () => Date;

  constructor(options: BackupReconcilerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  readonly reconcile = async (key: NamespacedName, signal: AbortSignal): Promise<ReconcileResult | void> => {
    const { backups } = this.options;
    const backup = await backups.get(key.namespace, key.name);
    if (!backup) return;
    return reconcileWithFinalizer(backups, BACKUP_FINALIZER, backup, {
      apply: (live) => this.run(live, signal),
      cleanup: (deleting) => this.finalize(deleting, signal),
    });
  };

  private async run(backup: Backup, signal: AbortSignal): Promise<ReconcileResult | void> {
    const phase = backup.status?.phase;
    const job = this.options.jobs.get(backup.metadata.namespace, backupJobName(backup));
    if (phase === 'Completed' || phase === 'Failed') {
      // The record of a completed backup is the Backup; a failed one keeps its Job for the pod's logs.
      if (phase === 'Completed' && job) await this.options.children.delete(job, signal);
      return;
    }
    if (job) return this.follow(backup, job);
    if (!backup.status?.jobName) return this.start(backup, signal);
    // Created, but the cache may not have caught up with our own write yet: ask the API before calling it gone.
    const live = await this.liveJob(backup, signal);
    return live ? this.follow(backup, live) : this.jobVanished(backup);
  }

  /** Creates the Job once the Database has a ready member. */
  private async start(backup: Backup, signal: AbortSignal): Promise<ReconcileResult | void> {
    const { databases, events } = this.options;
    const db = await databases.get(backup.metadata.namespace, backup.spec.databaseName);
    if (!db) {
      return this.fail(backup, `Database ${backup.spec.databaseName} does not exist`);
    }
    if (!((db.status?.readyReplicas ?? 0) > 0) || db.status?.phase === 'Restoring') {
      const waiting = db.status?.phase === 'Restoring' ? 'is being restored' : 'has no ready member';
      await this.writeStatus(backup, { ...backup.status, phase: 'Pending' }, 'Pending', 'WaitingForDatabase', `Database ${db.metadata.name} ${waiting}`);
      return { requeueAfter: WAIT_FOR_DATABASE_MS };
    }
    const job = setControllerReference(backupJob(db, backup, this.options.agent), backup);
    try {
      await this.options.access.ensure(backup.metadata.namespace!, signal);
      await ensureRepositoryClaim(this.options.client, db, signal);
      await this.options.children.apply(job, undefined, signal);
    } catch (err) {
      if (namespaceTerminating(err)) return this.fail(backup, `namespace ${backup.metadata.namespace} is being deleted`);
      throw err;
    }
    const status: BackupStatus = {
      ...backup.status,
      phase: 'Pending',
      jobName: job.metadata.name!,
      engine: db.spec.engine,
      method: backup.spec.method ?? engineFor(db.spec.engine).backup.methods[0],
      databaseSpec: db.spec,
    };
    const written = await this.writeStatus(backup, status, 'Pending', 'JobCreated', `Job ${job.metadata.name} writes the archive`);
    await events.record(written, { type: 'Normal', reason: 'Started', action: 'Backup', note: `Created Job ${job.metadata.name} to back up Database ${db.metadata.name}` });
  }

  /** Follows the Job: the agent reports Running and Completed itself; the Job's end decides the rest. */
  private async follow(backup: Backup, job: KubeObject): Promise<void> {
    const outcome = agentOutcome(job, this.options.pods.list(backup.metadata.namespace));
    if (outcome.state === 'running') return;
    if (outcome.state === 'failed') return this.fail(backup, outcome.failure ?? `Job ${job.metadata.name} failed`);
    const archive = archiveResult(outcome.result);
    if (!archive) {
      return this.fail(backup, `Job ${job.metadata.name} succeeded, but its agent reported no complete archive (no size, digest and location)`);
    }
    // The agent's report did not arrive (or not yet): its termination message says the same.
    const status: BackupStatus = {
      ...backup.status,
      phase: 'Completed',
      completionTime: outcome.finishedAt ?? this.now().toISOString(),
      sizeBytes: archive.sizeBytes,
      sha256: archive.sha256,
      location: archive.location,
    };
    delete status.failureReason;
    if (archive.engine) status.engine = archive.engine as BackupStatus['engine'];
    if (archive.engineVersion) status.engineVersion = archive.engineVersion;
    status.startTime ??= status.completionTime;
    const written = await this.writeStatus(backup, status, 'Completed', 'ArchiveComplete', `archive at ${archive.location}`);
    await this.options.events.record(written, { type: 'Normal', reason: 'Completed', action: 'Backup', note: `Backup complete: ${archive.sizeBytes} bytes at ${archive.location}` });
  }

  private async liveJob(backup: Backup, signal: AbortSignal): Promise<KubeObject | undefined> {
    try {
      return await this.options.client.request<KubeObject>('GET', resourcePath(resourceTypes.Job, backup.metadata.namespace, backupJobName(backup)), { signal });
    } catch (err) {
      if (isStatusError(err, 404)) return undefined;
      throw err;
    }
  }

  private async jobVanished(backup: Backup): Promise<void> {
    await this.fail(backup, `Job ${backup.status?.jobName ?? backupJobName(backup)} was deleted before the archive was complete`);
  }

  private async fail(backup: Backup, reason: string): Promise<void> {
    const status: BackupStatus = { ...backup.status, phase: 'Failed', failureReason: reason, completionTime: this.now().toISOString() };
    delete status.progress;
    const written = await this.writeStatus(backup, status, 'Failed', 'BackupFailed', reason);
    await this.options.events.record(written, { type: 'Warning', reason: 'Failed', action: 'Backup', note: reason });
  }

  private writeStatus(backup: Backup, status: BackupStatus, phase: string, reason: string, message: string): Promise<Backup> {
    const done = phase === 'Completed' || phase === 'Failed';
    const conditions = setCondition(
      status.conditions,
      {
        type: 'Complete',
        status: phase === 'Completed' ? 'True' : 'False',
        observedGeneration: backup.metadata.generation,
        reason,
        message: done || phase === 'Pending' ? message : 'the agent is writing the archive',
      },
      this.now().toISOString(),
    );
    return this.options.backups.updateStatus(backup, JSON.parse(JSON.stringify({ ...status, conditions })) as BackupStatus);
  }

  /**
   * Deletion: stop a running agent, delete the archive with an agent Job when one may exist, then let the Backup go.
   * In a namespace being deleted no Job can start: the archive is left (a claim goes with the namespace; an object
   * store keeps it) and an Event says where.
   */
  private async finalize(backup: Backup, signal: AbortSignal): Promise<Cleanup> {
    const { jobs, children, events } = this.options;
    const namespace = backup.metadata.namespace;
    const running = jobs.get(namespace, backupJobName(backup));
    if (running) await children.delete(running, signal);
    if (backup.status?.databaseSpec) {
      const deletion = archiveDeleteJob(backup, this.options.agent);
      const job = jobs.get(namespace, deletion.metadata.name!);
      if (!job) {
        try {
          await this.options.access.ensure(namespace!, signal);
          await children.apply(setControllerReference(deletion, backup), undefined, signal);
          return { done: false };
        } catch (err) {
          if (!namespaceTerminating(err)) throw err;
          const where = backup.status.location ?? 'the repository';
          await events.record(backup, { type: 'Warning', reason: 'ArchiveLeft', action: 'Delete', note: `namespace ${namespace} is being deleted: no Job can delete the archive at ${where}` });
        }
      } else {
        const outcome = agentOutcome(job, this.options.pods.list(namespace));
        if (outcome.state === 'running') return { done: false };
        if (outcome.state === 'failed') {
          await events.record(backup, {
            type: 'Warning',
            reason: 'ArchiveDeleteFailed',
            action: 'Delete',
            note: `${outcome.failure}; trying again. Remove the finalizer ${BACKUP_FINALIZER} to give up and leave the archive.`,
          });
          await children.delete(job, signal);
          return { done: false, requeueAfter: RETRY_DELETE_MS };
        }
      }
    }
    return { done: true };
  }
}

export function backupJobName(backup: Backup): string {
  return backup.status?.jobName ?? agentJobName(backup.metadata.name!, 'backup');
}

