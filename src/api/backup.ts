// The Backup resource: one archive of one database, made by a Job and tracked in status.
import { Type, type Static } from '@sinclair/typebox';
import { DatabaseName, objectForDatabase } from './action.ts';
import type { DatabaseSpec } from './database.ts';
import type { ResourceDefinition } from './definition.ts';
import { ALL_BACKUP_METHODS, ENGINE_NAMES, engineFor, isEngine } from '../engines/registry.ts';
import { invalid } from './errors.ts';
import { fieldNotSupported, fieldRequired, immutableFieldErrors } from './field.ts';
import { GROUP, VERSION, type KubeObject } from './meta.ts';
import { formatBytes, formatPercent } from './printing.ts';
import { Conditions, ResourceSchema, schemaAndValidation, StringEnum, Timestamp } from './schema.ts';

export const BACKUP_TRIGGERS = ['Manual', 'Schedule', 'PreDelete', 'PreRestore', 'PreUpgrade'] as const;
export const BACKUP_PHASES = ['Pending', 'Running', 'Completed', 'Failed'] as const;

export const BackupSpecSchema = Type.Object(
  {
    databaseName: DatabaseName('The Database, in the same namespace, to back up. Cannot be changed.'),
    method: Type.Optional(
      StringEnum(ALL_BACKUP_METHODS, {
        description: `How the archive is made; each engine has its own methods and the first is its default: ${ENGINE_NAMES.map(
          (e) => `${e} (${engineFor(e).backup.methods.join(', ')})`,
        ).join(', ')}. Cannot be changed once set.`,
      }),
    ),
    trigger: Type.Optional(
      StringEnum(BACKUP_TRIGGERS, {
        description:
          'Why the backup was taken: Manual (asked for), Schedule (spec.backup.schedule of the Database), PreDelete (the final backup of deletionPolicy Snapshot), PreRestore (the safety backup of an in-place restore), PreUpgrade (before a major version upgrade). Cannot be changed.',
        default: 'Manual',
      }),
    ),
    hold: Type.Optional(
      Type.Boolean({
        description: 'Keep this backup whatever the retention policy says. The only field that may change after creation.',
        default: false,
      }),
    ),
  },
  { description: 'BackupSpec says which database to back up and how.' },
);

export const BackupStatusSchema = Type.Object(
  {
    phase: Type.Optional(
      StringEnum(BACKUP_PHASES, {
        description:
          'Pending (waiting for its Job), Running (archive being written), Completed (archive complete and its checksum recorded) or Failed (see failureReason; nothing usable was left).',
      }),
    ),
    startTime: Type.Optional(Timestamp({ description: 'When the backup Job started writing the archive.' })),
    completionTime: Type.Optional(Timestamp({ description: 'When the backup completed or failed.' })),
    engine: Type.Optional(StringEnum(ENGINE_NAMES, { description: 'The engine of the database when it was backed up.' })),
    engineVersion: Type.Optional(Type.String({ description: 'The engine version that wrote the archive; a restore needs the same major or a later one.' })),
    sizeBytes: Type.Optional(Type.Integer({ description: 'Size of the archive in bytes, after compression and encryption.', format: 'int64', minimum: 0 })),
    sha256: Type.Optional(Type.String({ description: 'SHA-256 of the archive as stored, in lower-case hex.', pattern: '^[a-f0-9]{64}$' })),
    location: Type.Optional(
      Type.String({ description: 'Where the archive is, as a URL: pvc://<claim>/<path> or s3://<bucket>/<key>.' }),
    ),
    progress: Type.Optional(
      Type.Object(
        {
          bytesDone: Type.Optional(Type.Integer({ description: 'Bytes of the database read so far.', format: 'int64', minimum: 0 })),
          bytesTotal: Type.Optional(
            Type.Integer({ description: 'Estimated bytes to read in all, when the engine can tell.', format: 'int64', minimum: 0 }),
          ),
        },
        { description: 'How far a running backup has got.' },
      ),
    ),
    jobName: Type.Optional(Type.String({ description: 'The Job that makes the archive.' })),
    method: Type.Optional(StringEnum(ALL_BACKUP_METHODS, { description: 'How the archive was made.' })),
    databaseSpec: Type.Optional(
      Type.Unsafe<DatabaseSpec>({
        type: 'object',
        description:
          "The Database's spec when the backup started: where the archive went, how it is encrypted and what ran it. Restores and the archive's deletion use it, so they work after the Database changed or is gone.",
        'x-kubernetes-preserve-unknown-fields': true,
      }),
    ),

    failureReason: Type.Optional(Type.String({ description: 'Why the backup failed, when phase is Failed.' })),
    conditions: Type.Optional(Conditions('The latest observations of the backup.')),
  },
  { description: 'BackupStatus is what the controller has observed of the backup.' },
);

export const BackupSchema = ResourceSchema(
  'A Backup is one archive of one Database. Create it directly, through POST databases/<name>/backup, or let a schedule make it.',
  BackupSpecSchema,
  BackupStatusSchema,
);

export type BackupSpec = Static<typeof BackupSpecSchema>;
export type BackupStatus = Static<typeof BackupStatusSchema>;
export type BackupTrigger = (typeof BACKUP_TRIGGERS)[number];
export type BackupPhase = (typeof BACKUP_PHASES)[number];
export interface Backup extends KubeObject {
  spec: BackupSpec;
  status?: BackupStatus;
}

/** A Completed backup is one whose archive can be trusted (design §7): it says where it is and what it hashes to. */
function completedErrors(status: BackupStatus | undefined) {
  if (status?.phase !== 'Completed') return [];
  return (['completionTime', 'location', 'sha256', 'sizeBytes'] as const)
    .filter((field) => status[field] === undefined)
    .map((field) => fieldRequired(`status.${field}`, 'a Completed backup records it'));
}

/** The Backup `databases/<db>/backup` creates: trigger Manual and the engine's default method unless the body says. */
export function backupForDatabase(parent: KubeObject, body: KubeObject | undefined): KubeObject {
  const backup = objectForDatabase(parent, body, 'Backup');
  const engine = parent.spec?.engine;
  backup.spec.trigger ??= 'Manual';
  if (isEngine(engine)) {
    const methods = engineFor(engine).backup.methods;
    if (backup.spec.method === undefined) backup.spec.method = methods[0];
    else if (!methods.includes(backup.spec.method)) {
      throw invalid('Backup', GROUP, backup.metadata.name ?? '', [fieldNotSupported('spec.method', backup.spec.method, methods)]);
    }
  }
  return backup;
}

export const backupDefinition: ResourceDefinition = {
  group: GROUP,
  version: VERSION,
  kind: 'Backup',
  listKind: 'BackupList',
  plural: 'backups',
  singular: 'backup',
  shortNames: [],
  categories: ['strongroom'],
  namespaced: true,
  ...schemaAndValidation(BackupSchema, (backup: Backup) => completedErrors(backup.status)),
  applyDefaults() {
    // Every default is in the schema.
  },
  validateUpdate(obj, old) {
    // The controller may record the engine's default method once; everything but `hold` is fixed after that.
    return immutableFieldErrors('spec', obj.spec, old.spec, { mutable: ['hold'], settable: ['method'] });
  },
  warnings() {
    return [];
  },
  printerColumns: [
    { name: 'Database', type: 'string', description: 'The database backed up.', priority: 0, jsonPath: '.spec.databaseName' },
    { name: 'Phase', type: 'string', description: 'Pending, Running, Completed or Failed.', priority: 0, jsonPath: '.status.phase' },
    {
      name: 'Size',
      type: 'string',
      description: 'Size of the archive.',
      priority: 0,
      jsonPath: '.status.sizeBytes',
      cell: (obj) => (typeof obj.status?.sizeBytes === 'number' ? formatBytes(obj.status.sizeBytes) : undefined),
    },
    {
      name: 'Progress',
      type: 'string',
      description: 'Share of the database read so far.',
      priority: 0,
      jsonPath: '.status.progress.bytesDone',
      cell: (obj) =>
        obj.status?.phase === 'Completed' ? '100%' : formatPercent(obj.status?.progress?.bytesDone, obj.status?.progress?.bytesTotal),
    },
  ],
  selectableFields: {
    'spec.databaseName': (obj) => obj.spec?.databaseName,
    'status.phase': (obj) => obj.status?.phase,
  },
  subresources: { status: true, actions: {} },
};
