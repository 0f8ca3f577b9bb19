// The Restore resource: puts a Backup's data back, into its database or into a new one, step by step.
import { Type, type Static } from '@sinclair/typebox';
import { DatabaseName, objectForDatabase } from './action.ts';
import type { Backup } from './backup.ts';
import type { Database } from './database.ts';
import type { ObjectLookup, ResourceDefinition } from './definition.ts';
import { invalid } from './errors.ts';
import {
  DNS1123_SUBDOMAIN_PATTERN,
  fieldDuplicate,
  fieldForbidden,
  fieldInvalid,
  fieldNotFound,
  fieldRequired,
  immutableFieldErrors,
} from './field.ts';
import { GROUP, VERSION, type FieldError, type KubeObject } from './meta.ts';
import { planRestore, RestorePlanSchema } from './restore-plan.ts';
import { Conditions, ResourceSchema, schemaAndValidation, StringEnum, Timestamp } from './schema.ts';

export const RESTORE_PHASES = ['Pending', 'Running', 'Completed', 'Failed'] as const;
export const RESTORE_STEP_PHASES = ['Pending', 'Running', 'Completed', 'Failed', 'Skipped'] as const;

export const RestoreSpecSchema = Type.Object(
  {
    databaseName: DatabaseName('The Database, in the same namespace, whose backup is restored. Cannot be changed.'),
    backupName: Type.String({
      description: 'The Backup, in the same namespace, to restore. Cannot be changed.',
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN_PATTERN,
    }),
    target: Type.Optional(
      Type.Object(
        {
          inPlace: Type.Optional(
            Type.Object(
              {
                safetyBackup: Type.Optional(
                  Type.Boolean({
                    description:
                      'Take a backup (trigger PreRestore) of the current data before replacing it, so the restore can be undone.',
                    default: true,
                  }),
                ),
              },
              { description: 'Replace the data of the database itself; it is unavailable while the restore runs.' },
            ),
          ),
          newDatabase: Type.Optional(
            Type.Object(
              {
                name: DatabaseName('Name of the Database to create, in the same namespace, with the settings of the source database.'),
              },
              { description: 'Restore into a new Database and leave the source database untouched.' },
            ),
          ),
        },
        {
          description: 'Where the data goes: exactly one of inPlace and newDatabase. Cannot be changed.',
          default: { inPlace: {} },
        },
      ),
    ),
  },
  { description: 'RestoreSpec names the backup to restore and where to.' },
);

export const RestoreStatusSchema = Type.Object(
  {
    phase: Type.Optional(
      StringEnum(RESTORE_PHASES, {
        description: 'Pending, Running, Completed (the target serves the restored data) or Failed (see failureReason).',
      }),
    ),
    safetyBackupName: Type.Optional(
      Type.String({ description: 'The Backup taken of the current data before an in-place restore replaced it.' }),
    ),
    steps: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ description: 'What the step does, e.g. SafetyBackup, StopDatabase, LoadData, StartDatabase.' }),
            phase: StringEnum(RESTORE_STEP_PHASES, { description: 'Pending, Running, Completed, Failed or Skipped.' }),
            startTime: Type.Optional(Timestamp({ description: 'When the step started.' })),
            completionTime: Type.Optional(Timestamp({ description: 'When the step completed or failed.' })),
            message: Type.Optional(Type.String({ description: 'What happened, for people.' })),
          },
          { description: 'One step of a restore.' },
        ),
        {
          description: 'The steps of the restore, in order.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
        },
      ),
    ),
    startTime: Type.Optional(Timestamp({ description: 'When the restore started.' })),
    completionTime: Type.Optional(Timestamp({ description: 'When the restore completed or failed.' })),
    failureReason: Type.Optional(Type.String({ description: 'Why the restore failed, when phase is Failed.' })),
    conditions: Type.Optional(Conditions('The latest observations of the restore.')),
    plan: Type.Optional(RestorePlanSchema),
  },
  { description: 'RestoreStatus is what the controller has observed of the restore.' },
);

export const RestoreSchema = ResourceSchema(
  'A Restore puts the data of a Backup back, into its database (in place) or into a new Database. Create it directly or through POST databases/<name>/restore.',
  RestoreSpecSchema,
  RestoreStatusSchema,
);

export type RestoreSpec = Static<typeof RestoreSpecSchema>;
export type RestoreStatus = Static<typeof RestoreStatusSchema>;
export type RestorePhase = (typeof RESTORE_PHASES)[number];
export interface Restore extends KubeObject {
  spec: RestoreSpec;
  status?: RestoreStatus;
}

function targetErrors(spec: RestoreSpec) {
  const target = spec.target;
  if (!target) return [];
  if (target.inPlace && target.newDatabase) return [fieldForbidden('spec.target.newDatabase', 'may not specify more than 1 target')];
  if (!target.inPlace && !target.newDatabase) return [fieldRequired('spec.target', 'must specify a target: inPlace or newDatabase')];
  if (target.newDatabase?.name === spec.databaseName) {
    return [fieldInvalid('spec.target.newDatabase.name', target.newDatabase.name, 'must differ from spec.databaseName; use inPlace to restore into the database itself')];
  }
  return [];
}

/** The objects a Restore names, as stored when it is checked. */
interface References {
  backup: Backup | undefined;
  source: Database | undefined;
  /** The Database `target.newDatabase.name` names, which must not exist yet. */
  existingTarget: KubeObject | undefined;
}

async function readReferences(restore: Restore, lookup: ObjectLookup): Promise<References> {
  const namespace = restore.metadata.namespace;
  const newName = restore.spec.target?.newDatabase?.name;
  const [backup, source, existingTarget] = await Promise.all([
    lookup('backups', namespace, restore.spec.backupName),
    lookup('databases', namespace, restore.spec.databaseName),
    newName === undefined ? undefined : lookup('databases', namespace, newName),
  ]);
  return { backup: backup as Backup | undefined, source: source as Database | undefined, existingTarget };
}

/**
 * The backup must be a Completed one of spec.databaseName; an in-place restore needs that database, a new one needs
 * its name free. The source may be gone otherwise: restoring a deleted database's final backup into a new Database
 * is what deletionPolicy Snapshot is for.
 */
function referenceErrors({ spec }: Restore, { backup, source, existingTarget }: References): FieldError[] {
  const errors: FieldError[] = [];
  if (!backup) errors.push(fieldNotFound('spec.backupName', spec.backupName));
  else if (backup.spec.databaseName !== spec.databaseName) {
    errors.push(fieldInvalid('spec.backupName', spec.backupName, `must be a backup of spec.databaseName ("${spec.databaseName}"), not of "${backup.spec.databaseName}"`));
  } else if (backup.status?.phase !== 'Completed') {
    errors.push(fieldInvalid('spec.backupName', spec.backupName, `the backup is ${backup.status?.phase ?? 'Pending'}: only a Completed backup can be restored`));
  }
  if (spec.target?.newDatabase && existingTarget) errors.push(fieldDuplicate('spec.target.newDatabase.name', spec.target.newDatabase.name));
  if (spec.target?.inPlace && !source) {
    errors.push(fieldNotFound('spec.databaseName', spec.databaseName, 'an in-place restore needs the database; restore into a newDatabase instead'));
  }
  return errors;
}

/**
 * A Restore as `?dryRun=All` on databases/restore answers it: Pending, with its plan and every step Pending. Throws
 * 422 Invalid when what it names has changed since admission.
 */
export async function describeRestore(created: KubeObject, lookup: ObjectLookup): Promise<KubeObject> {
  const restore = created as Restore;
  const references = await readReferences(restore, lookup);
  const errors = referenceErrors(restore, references);
  if (errors.length > 0) throw invalid('Restore', GROUP, restore.metadata.name ?? '', errors);
  const plan = planRestore(restore, references.backup!, references.source);
  const status: RestoreStatus = { phase: 'Pending', steps: plan.steps.map(({ name }) => ({ name, phase: 'Pending' })), plan };
  return { ...restore, status };
}

/** The Restore `databases/<db>/restore` creates; the body must name the backup. */
export function restoreForDatabase(parent: KubeObject, body: KubeObject | undefined): KubeObject {
  const restore = objectForDatabase(parent, body, 'Restore');
  if (!restore.spec.backupName) {
    throw invalid('Restore', GROUP, restore.metadata.name ?? '', [fieldRequired('spec.backupName', 'name the Backup to restore')]);
  }
  return restore;
}

export const restoreDefinition: ResourceDefinition = {
  group: GROUP,
  version: VERSION,
  kind: 'Restore',
  listKind: 'RestoreList',
  plural: 'restores',
  singular: 'restore',
  shortNames: [],
  categories: ['strongroom'],
  namespaced: true,
  ...schemaAndValidation(RestoreSchema, (restore: Restore) => targetErrors(restore.spec)),
  async validateReferences(obj, lookup) {
    const restore = obj as Restore;
    return referenceErrors(restore, await readReferences(restore, lookup));
  },
  applyDefaults() {
    // Every default is in the schema.
  },
  validateUpdate(obj, old) {
    return immutableFieldErrors('spec', obj.spec, old.spec);
  },
  warnings(obj) {
    const inPlace = (obj as Restore).spec?.target?.inPlace;
    return inPlace?.safetyBackup === false
      ? ['spec.target.inPlace.safetyBackup is false: the current data cannot be recovered if this restore goes wrong']
      : [];
  },
  printerColumns: [
    { name: 'Database', type: 'string', description: 'The database restored.', priority: 0, jsonPath: '.spec.databaseName' },
    { name: 'Backup', type: 'string', description: 'The backup restored.', priority: 0, jsonPath: '.spec.backupName' },
    { name: 'Phase', type: 'string', description: 'Pending, Running, Completed or Failed.', priority: 0, jsonPath: '.status.phase' },
  ],
  selectableFields: {
    'spec.databaseName': (obj) => obj.spec?.databaseName,
    'spec.backupName': (obj) => obj.spec?.backupName,
    'status.phase': (obj) => obj.status?.phase,
  },
  subresources: { status: true, actions: {} },
};
