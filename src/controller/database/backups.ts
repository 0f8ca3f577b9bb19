// What a Database does about its Backups on each reconcile: take the scheduled one that is due, expire what the
// retention policy no longer keeps, and say in status which backup is the newest, when the next one comes and whether
// the last one worked (condition BackupHealthy). Backups belong to no Database (they outlive it), so they are found
// by spec.databaseName.
import { DATABASE_LABEL } from '../../api/action.ts';
import type { Backup } from '../../api/backup.ts';
import type { Database, DatabaseStatus } from '../../api/database.ts';
import { GROUP_VERSION } from '../../api/meta.ts';
import { setCondition } from '../conditions.ts';
import type { EventInput } from '../events.ts';
import { expiredBackups } from '../backup/retention.ts';
import { dueRun, scheduledBackupName } from '../backup/schedule.ts';

export interface BackupDuties {
  /** The Backup the schedule asks for now, to create (its name is the run's, so a repeat gets 409 and is harmless). */
  scheduled?: Backup;
  /** Backups the retention policy removes. */
  expired: Backup[];
  /** The status fields this module owns, computed from `status` (the rest of the status). */
  status: DatabaseStatus;
  events: EventInput[];
  /** When the schedule fires next, for the requeue. */
  nextRun?: Date;
}

/** The Backups of `db` among `all`. */
export function backupsOf(db: Database, all: readonly Backup[]): Backup[] {
  return all.filter((backup) => backup.metadata.namespace === db.metadata.namespace && backup.spec.databaseName === db.metadata.name);
}

function newest(backups: readonly Backup[], phases: readonly string[]): Backup | undefined {
  return backups
    .filter((backup) => phases.includes(backup.status?.phase ?? '') && backup.status?.completionTime && !backup.metadata.deletionTimestamp)
    .sort((a, b) => a.status!.completionTime!.localeCompare(b.status!.completionTime!) || a.metadata.name!.localeCompare(b.metadata.name!))
    .at(-1);
}

/** A Backup object as the schedule makes it. */
export function newBackup(db: Database, name: string, trigger: NonNullable<Backup['spec']['trigger']>): Backup {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'Backup',
    metadata: { name, namespace: db.metadata.namespace, labels: { [DATABASE_LABEL]: db.metadata.name! } },
    spec: { databaseName: db.metadata.name!, trigger },
  };
}

export function backupDuties(db: Database, backups: readonly Backup[], status: DatabaseStatus, now: Date): BackupDuties {
  const ours = backupsOf(db, backups);
  const result: DatabaseStatus = { ...status };
  const events: EventInput[] = [];
  const duties: BackupDuties = { expired: [], status: result, events };

  const last = newest(ours, ['Completed']);
  if (last) result.lastBackup = { name: last.metadata.name!, completionTime: last.status!.completionTime! };
  else delete result.lastBackup;

  const schedule = db.spec.backup?.schedule;
  if (schedule && !db.spec.paused) {
    const since = [status.lastScheduleTime, db.metadata.creationTimestamp].filter((t): t is string => !!t).sort().at(-1);
    const { due, next } = dueRun(schedule, new Date(since ?? now.toISOString()), now);
    if (due) {
      duties.scheduled = newBackup(db, scheduledBackupName(db.metadata.name!, due), 'Schedule');
      result.lastScheduleTime = due.toISOString();
    }
    result.nextBackupTime = next.toISOString();
    duties.nextRun = next;
  } else {
    delete result.nextBackupTime;
  }

  if (!db.spec.paused) {
    const expired = new Set(
      expiredBackups(
        ours.map((backup) => ({
          name: backup.metadata.name!,
          phase: backup.status?.phase,
          completionTime: backup.status?.completionTime,
          creationTimestamp: backup.metadata.creationTimestamp,
          hold: backup.spec.hold,
          trigger: backup.spec.trigger,
          deleting: !!backup.metadata.deletionTimestamp,
        })),
        db.spec.backup?.retention,
      ),
    );
    duties.expired = ours.filter((backup) => expired.has(backup.metadata.name!));
  }

  const finished = newest(ours, ['Completed', 'Failed']);
  if (finished) {
    const failed = finished.status?.phase === 'Failed';
    result.conditions = setCondition(
      result.conditions,
      {
        type: 'BackupHealthy',
        status: failed ? 'False' : 'True',
        observedGeneration: db.metadata.generation,
        reason: failed ? 'LastBackupFailed' : 'LastBackupCompleted',
        message: failed
          ? `Backup ${finished.metadata.name} failed: ${finished.status?.failureReason ?? 'no reason given'}`
          : `Backup ${finished.metadata.name} completed at ${finished.status!.completionTime}`,
      },
      now.toISOString(),
    );
  }
  return duties;
}
