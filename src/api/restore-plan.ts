// The plan of a restore: the steps the restore controller runs, what they replace or create, and how long the target
// does not serve. Pure, so `?dryRun=All` on databases/restore can answer it and the controller can follow it.
import { Type, type Static } from '@sinclair/typebox';
import { DATA_VOLUME } from '../engines/common.ts';
import { engineFor, isEngine } from '../engines/registry.ts';
import type { Backup } from './backup.ts';
import type { COMPRESSIONS, Database } from './database.ts';
import type { Restore } from './restore.ts';
import { StringEnum } from './schema.ts';

export const RESTORE_STEPS = ['SafetyBackup', 'CreateDatabase', 'StopDatabase', 'LoadData', 'StartDatabase', 'WaitReady'] as const;
export type RestoreStepName = (typeof RESTORE_STEPS)[number];

/**
 * Restore throughput in bytes of source data per second, and how many times larger the source is than its archive:
 * the backup bench restored a 977 MiB PostgreSQL database from a 215 MiB zstd archive in 16.9 s. gzip is not
 * measured and is taken to compress alike.
 */
const RESTORE_BYTES_PER_SECOND = 58 * 1024 * 1024;
const SOURCE_BYTES_PER_ARCHIVE_BYTE: Record<(typeof COMPRESSIONS)[number], number> = { zstd: 4.5, gzip: 4.5, none: 1 };

export const RestorePlanSchema = Type.Object(
  {
    backup: Type.Object(
      {
        name: Type.String({ description: 'The Backup restored.' }),
        sizeBytes: Type.Optional(Type.Integer({ description: 'Size of its archive in bytes.', format: 'int64', minimum: 0 })),
        sha256: Type.Optional(Type.String({ description: 'SHA-256 of its archive; the restore refuses an archive that differs.' })),
        completionTime: Type.Optional(Type.String({ description: 'When the backup completed.', format: 'date-time' })),
        engine: Type.Optional(Type.String({ description: 'The engine that wrote the archive.' })),
        engineVersion: Type.Optional(Type.String({ description: 'The engine version that wrote the archive.' })),
        method: Type.Optional(Type.String({ description: 'How the archive was made.' })),
      },
      { description: 'The backup restored, as it was when the restore was planned.' },
    ),
    targetDatabase: Type.String({ description: 'The Database that gets the data: spec.databaseName in place, or the new Database.' }),
    newDatabase: Type.Boolean({ description: 'Whether the target is created by the restore.' }),
    steps: Type.Array(
      Type.Object(
        {
          name: StringEnum(RESTORE_STEPS, { description: 'The step, as named in status.steps.' }),
          description: Type.String({ description: 'What the step does, for people.' }),
        },
        { description: 'One step of the plan.' },
      ),
      { description: 'The steps, in the order they run.' },
    ),
    replaces: Type.Array(Type.String(), {
      description: 'What the restore replaces or creates, for people, e.g. "the data of PersistentVolumeClaim data-orders-0".',
    }),
    expectedDowntimeSeconds: Type.Integer({
      description:
        'Seconds the target does not serve, estimated from the archive size at 58 MiB/s of source data, the source taken as 4.5 times a zstd or gzip archive. 0 for a new database: the source keeps serving.',
      format: 'int64',
      minimum: 0,
    }),
  },
  { description: 'What the restore does, worked out from the Backup and the Database when it was created.' },
);

export type RestorePlan = Static<typeof RestorePlanSchema>;
type PlanStep = RestorePlan['steps'][number];

/**
 * How the engine loads an archive of `method`: 'connection' (into the running primary; no stop) or 'volumes' (into
 * the stopped members' data volumes). An engine no longer known is taken as 'volumes', which stops the members.
 */
export function loadMode(engine: string, method: string): 'connection' | 'volumes' {
  return isEngine(engine) ? engineFor(engine).backup.loadMode(method) : 'volumes';
}

/**
 * The plan of `restore` from `backup`, whose status.databaseSpec gives the settings at backup time. `source` is the
 * live Database named by spec.databaseName, when it exists: an in-place restore replaces the data of its members,
 * while a new database gets the members the source had when the backup was taken.
 */
export function planRestore(restore: Restore, backup: Backup, source: Database | undefined): RestorePlan {
  const sourceName = restore.spec.databaseName;
  const newName = restore.spec.target?.newDatabase?.name;
  const target = newName ?? sourceName;
  const atBackup = backup.status?.databaseSpec;
  const engine = backup.status?.engine ?? atBackup?.engine ?? source?.spec.engine ?? '';
  const method = backup.status?.method ?? backup.spec.method ?? (isEngine(engine) ? engineFor(engine).backup.methods[0] : '');
  const mode = loadMode(engine, method);
  const members = (newName ? (atBackup?.replicas ?? source?.spec.replicas) : (source?.spec.replicas ?? atBackup?.replicas)) ?? 1;
  const claims = Array.from({ length: members }, (_, ordinal) => `${DATA_VOLUME}-${target}-${ordinal}`);

  const step = (name: RestoreStepName, description: string): PlanStep => ({ name, description });
  const steps: PlanStep[] = [];
  const replaces: string[] = [];
  if (newName) {
    steps.push(
      mode === 'connection'
        ? step('CreateDatabase', `Create Database ${newName} with the settings ${sourceName} had at backup time, and wait until it is Ready to take the data.`)
        : step('CreateDatabase', `Create Database ${newName} with the settings ${sourceName} had at backup time, its members stopped so their volumes can be written.`),
    );
    replaces.push(`a new Database ${newName}`);
  } else if (restore.spec.target?.inPlace?.safetyBackup !== false) {
    steps.push(step('SafetyBackup', `Back up the current data of Database ${sourceName} (a Backup with trigger PreRestore), so this restore can be undone.`));
  }
  if (mode === 'connection') {
    steps.push(
      step(
        'LoadData',
        newName
          ? `Load the ${method} of ${backup.metadata.name} into the primary of Database ${newName} in one transaction.`
          : `Load the ${method} of ${backup.metadata.name} into the running primary of Database ${sourceName} in one transaction: its data is replaced when the transaction commits, and kept if the load fails.`,
      ),
    );
    if (!newName) replaces.push(`the data of Database ${sourceName}, through its primary`);
  } else {
    if (!newName) steps.push(step('StopDatabase', `Stop the members of Database ${sourceName}, so nothing writes to their volumes.`));
    steps.push(step('LoadData', `Write the ${method} of ${backup.metadata.name} into the data volume of each member: ${claims.join(', ')}.`));
    steps.push(step('StartDatabase', `Start the members of Database ${target} on the restored data.`));
    replaces.push(...claims.map((claim) => `the data of ${newName ? 'new ' : ''}PersistentVolumeClaim ${claim}`));
  }
  steps.push(step('WaitReady', `Wait until Database ${target} is Ready with all its members.`));

  return {
    backup: backupSummary(backup, engine, method),
    targetDatabase: target,
    newDatabase: newName !== undefined,
    steps,
    replaces,
    expectedDowntimeSeconds: newName ? 0 : restoreSeconds(backup),
  };
}

function backupSummary(backup: Backup, engine: string, method: string): RestorePlan['backup'] {
  const status = backup.status ?? {};
  const summary: RestorePlan['backup'] = { name: backup.metadata.name ?? '' };
  if (status.sizeBytes !== undefined) summary.sizeBytes = status.sizeBytes;
  if (status.sha256 !== undefined) summary.sha256 = status.sha256;
  if (status.completionTime !== undefined) summary.completionTime = status.completionTime;
  if (engine) summary.engine = engine;
  if (status.engineVersion !== undefined) summary.engineVersion = status.engineVersion;
  if (method) summary.method = method;
  return summary;
}

/** The time to load the archive, from its size and the compression it was written with (zstd unless recorded). */
function restoreSeconds(backup: Backup): number {
  const compression = backup.status?.databaseSpec?.backup?.compression ?? 'zstd';
  const sourceBytes = (backup.status?.sizeBytes ?? 0) * SOURCE_BYTES_PER_ARCHIVE_BYTE[compression];
  return Math.ceil(sourceBytes / RESTORE_BYTES_PER_SECOND);
}
