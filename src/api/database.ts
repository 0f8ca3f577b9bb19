// The Database resource: a postgres, redis or etcd deployment with its storage, backups and deletion policy.
import { Type, type Static } from '@sinclair/typebox';
import { CronExpressionParser } from 'cron-parser';
import { MAX_DATABASE_NAME } from './action.ts';
import { backupForDatabase } from './backup.ts';
import type { ResourceDefinition } from './definition.ts';
import { ENGINE_NAMES, engineFor } from '../engines/registry.ts';
import { applyEngineDefaults, engineUpdateErrors, validateEngineSpec } from './engine-spec.ts';
import {
  DNS1123_SUBDOMAIN_PATTERN,
  dns1035LabelErrors,
  fieldForbidden,
  fieldInvalid,
  fieldRequired,
} from './field.ts';
import { GROUP, VERSION, type FieldError, type KubeObject } from './meta.ts';
import { isQuantity, parseQuantity } from './quantity.ts';
import { describeRestore, restoreForDatabase } from './restore.ts';
import { Conditions, Quantity, ResourceSchema, schemaAndValidation, StringEnum, StringMap, Timestamp } from './schema.ts';

export const DELETION_POLICIES = ['Snapshot', 'Delete', 'Retain'] as const;
export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export const DATABASE_PHASES = ['Pending', 'Provisioning', 'Ready', 'Updating', 'Restoring', 'Degraded', 'Paused', 'Deleting', 'Failed'] as const;
/** The condition types the controller maintains in `status.conditions`. */
export const DATABASE_CONDITIONS = ['Ready', 'Progressing', 'Degraded', 'BackupHealthy'] as const;

const ObjectName = (description: string) => Type.String({ description, maxLength: 253, pattern: DNS1123_SUBDOMAIN_PATTERN });

function ResourceList(description: string) {
  return Type.Object(
    {
      cpu: Type.Optional(Quantity({ description: 'CPU in cores, e.g. 500m or 2.' })),
      memory: Type.Optional(Quantity({ description: 'Memory in bytes, e.g. 512Mi or 4Gi.' })),
    },
    { description },
  );
}

const RetentionCount = (description: string) => Type.Optional(Type.Integer({ description, format: 'int32', minimum: 0 }));

export const DatabaseSpecSchema = Type.Object(
  {
    engine: StringEnum(ENGINE_NAMES, { description: `The database engine: ${[ENGINE_NAMES.slice(0, -1).join(', '), ENGINE_NAMES.at(-1)].join(' or ')}. Cannot be changed.` }),
    version: Type.Optional(
      Type.String({
        description: `Engine version: a major (or major.minor for redis and etcd), optionally with a patch. Defaults per engine: ${ENGINE_NAMES.map(
          (e) => `${e} ${engineFor(e).spec.defaultVersion}`,
        ).join(', ')}. Supported: ${ENGINE_NAMES.map((e) => `${e} ${engineFor(e).spec.majors.join(', ')}`).join('; ')}. Upgrades go up one major at a time; downgrades are refused.`,
      }),
    ),
    image: Type.Optional(
      Type.String({
        description:
          "The container image of the members, instead of the one the operator's image catalog names for the version. Any image with the engine's binaries on PATH works: Strongroom states every container's command and runs it as the engine's user (uid and gid 999 for postgres and redis).",
      }),
    ),
    replicas: Type.Optional(
      Type.Integer({
        description:
          'Number of members: 1 is a single instance; more is a primary with streaming replicas (postgres, redis) or an n-member cluster (etcd, which needs an odd number: 1, 3, 5 or 7).',
        format: 'int32',
        minimum: 1,
        maximum: Math.max(...ENGINE_NAMES.map((e) => engineFor(e).spec.maxReplicas)),
        default: 1,
      }),
    ),
    resources: Type.Optional(
      Type.Object(
        {
          requests: Type.Optional(ResourceList('What each member is guaranteed.')),
          limits: Type.Optional(ResourceList('The most each member may use; requests may not exceed limits.')),
        },
        { description: 'CPU and memory of each member, as for a container.' },
      ),
    ),
    storage: Type.Optional(
      Type.Object(
        {
          size: Type.Optional(
            Quantity({ description: 'Size of the data volume of each member. May grow, never shrink.', default: '1Gi' }),
          ),
          storageClassName: Type.Optional(
            ObjectName('StorageClass of the data volumes; the cluster default when empty. Cannot be changed.'),
          ),
        },
        { description: 'The persistent volume of each member.', default: {} },
      ),
    ),
    parameters: Type.Optional(
      StringMap({
        description:
          `Engine configuration (${ENGINE_NAMES.map((e) => `${e}: ${engineFor(e).parametersDescription}`).join('; ')}). Settings Strongroom manages itself, such as ports and data directories, are refused.`,
      }),
    ),
    backup: Type.Optional(
      Type.Object(
        {
          repository: Type.Optional(
            Type.Object(
              {
                pvc: Type.Optional(
                  Type.Object(
                    {
                      claimName: Type.Optional(
                        ObjectName('An existing PersistentVolumeClaim to keep archives in. When empty, Strongroom creates <database>-backups.'),
                      ),
                      size: Type.Optional(
                        Quantity({ description: 'Size of the claim Strongroom creates (not allowed with claimName). Defaults to twice storage.size.' }),
                      ),
                    },
                    { description: 'Keep archives on a PersistentVolumeClaim in the namespace.' },
                  ),
                ),
                s3: Type.Optional(
                  Type.Object(
                    {
                      endpoint: Type.Optional(
                        Type.String({
                          description: 'URL of an S3-compatible service, e.g. https://minio.storage:9000. AWS S3 when empty.',
                          pattern: '^https?://[^\\s/]+(/\\S*)?$',
                        }),
                      ),
                      bucket: Type.String({
                        description: 'The bucket; it must exist.',
                        minLength: 3,
                        maxLength: 63,
                        pattern: '^[a-z0-9][a-z0-9.-]*[a-z0-9]$',
                      }),
                      prefix: Type.Optional(
                        Type.String({ description: 'Key prefix for the archives of this database, e.g. prod/orders/.' }),
                      ),
                      region: Type.Optional(Type.String({ description: 'Region of the bucket; us-east-1 when empty.' })),
                      credentialsSecret: ObjectName(
                        'Secret in the namespace with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
                      ),
                      forcePathStyle: Type.Optional(
                        Type.Boolean({
                          description: 'Address the bucket as <endpoint>/<bucket> rather than <bucket>.<endpoint> (MinIO and most self-hosted services need this).',
                          default: false,
                        }),
                      ),
                    },
                    { description: 'Keep archives in an S3-compatible bucket.' },
                  ),
                ),
              },
              { description: 'Where archives are kept: exactly one of pvc and s3.', default: { pvc: {} } },
            ),
          ),
          schedule: Type.Optional(
            Type.String({
              description:
                'When to take backups, in cron format with 5 fields (minute hour day-of-month month day-of-week, UTC) or a macro such as @daily. No scheduled backups when empty.',
            }),
          ),
          retention: Type.Optional(
            Type.Object(
              {
                keepLast: RetentionCount('Keep the newest n backups.'),
                keepDaily: RetentionCount('Keep the newest backup of each of the last n days that have one.'),
                keepWeekly: RetentionCount('Keep the newest backup of each of the last n weeks that have one.'),
                keepMonthly: RetentionCount('Keep the newest backup of each of the last n months that have one.'),
              },
              {
                description:
                  'Which completed backups to keep; a backup any rule keeps is kept, and so are held ones and the newest completed one. Everything is kept when empty.',
              },
            ),
          ),
          compression: Type.Optional(
            StringEnum(COMPRESSIONS, { description: 'Compression of the archives: zstd, gzip or none.', default: 'zstd' }),
          ),
          encryption: Type.Optional(
            Type.Object(
              {
                secretName: ObjectName('Secret in the namespace holding the encryption key.'),
                key: Type.Optional(Type.String({ description: 'The key in the Secret that holds the encryption key.', default: 'key' })),
              },
              { description: 'Encrypt archives with a key from a Secret. Archives are not encrypted when empty.' },
            ),
          ),
          backoffLimit: Type.Optional(
            Type.Integer({
              description: 'How many times a failed backup Job is retried (a new pod each time) before the Backup is Failed.',
              format: 'int32',
              minimum: 0,
              maximum: 10,
              default: 2,
            }),
          ),
          activeDeadlineSeconds: Type.Optional(
            Type.Integer({
              description: 'How long one backup may run, retries included, before it is stopped and the Backup is Failed.',
              format: 'int64',
              minimum: 1,
              default: 21600,
            }),
          ),
        },
        { description: 'Backups of the database: where they go, when they are taken and how long they are kept.', default: {} },
      ),
    ),
    deletionPolicy: Type.Optional(
      StringEnum(DELETION_POLICIES, {
        description:
          'What deleting the Database does: Snapshot takes a final backup, then deletes everything; Delete deletes everything at once; Retain keeps the volumes.',
        default: 'Snapshot',
      }),
    ),
    deletionProtection: Type.Optional(
      Type.Boolean({ description: 'Refuse to delete the Database while true.', default: false }),
    ),
    paused: Type.Optional(
      Type.Boolean({
        description: 'Stop reconciling: the controller leaves the workloads as they are and takes no scheduled backups.',
        default: false,
      }),
    ),
  },
  { description: 'DatabaseSpec is the desired state of a database.' },
);

export const DatabaseStatusSchema = Type.Object(
  {
    phase: Type.Optional(
      StringEnum(DATABASE_PHASES, { description: `A summary of the conditions: ${DATABASE_PHASES.join(', ')}.` }),
    ),
    conditions: Type.Optional(
      Conditions(`The latest observations of the database: ${DATABASE_CONDITIONS.join(', ')}.`),
    ),
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The metadata.generation the status describes.', format: 'int64', minimum: 0 }),
    ),
    replicas: Type.Optional(Type.Integer({ description: 'Members that exist.', format: 'int32', minimum: 0 })),
    readyReplicas: Type.Optional(Type.Integer({ description: 'Members that are ready.', format: 'int32', minimum: 0 })),
    selector: Type.Optional(
      Type.String({ description: 'Label selector of the member pods, in string form (for the scale subresource and the HPA).' }),
    ),
    currentVersion: Type.Optional(Type.String({ description: 'The engine version the members run.' })),
    image: Type.Optional(Type.String({ description: 'The container image the members run: spec.image, or the image catalog\'s for the version.' })),
    endpoints: Type.Optional(
      Type.Object(
        {
          primary: Type.Optional(Type.String({ description: 'host:port of the read-write service.' })),
          readOnly: Type.Optional(Type.String({ description: 'host:port of the read-only service, when there are replicas.' })),
        },
        { description: 'Where clients connect.' },
      ),
    ),
    connectionSecret: Type.Optional(Type.String({ description: 'Secret in the namespace with the connection details and credentials.' })),
    lastBackup: Type.Optional(
      Type.Object(
        {
          name: Type.String({ description: 'The Backup.' }),
          completionTime: Timestamp({ description: 'When it completed.' }),
        },
        { description: 'The newest completed backup.' },
      ),
    ),
    nextBackupTime: Type.Optional(Timestamp({ description: 'When the schedule takes the next backup.' })),
    lastScheduleTime: Type.Optional(Timestamp({ description: 'The last time the schedule fired: runs missed before it are not taken.' })),
  },
  { description: 'DatabaseStatus is what the controller has observed of the database.' },
);

export const DatabaseSchema = ResourceSchema(
  'A Database is a postgres, redis or etcd deployment that Strongroom runs, backs up and restores.',
  DatabaseSpecSchema,
  DatabaseStatusSchema,
);

export type DatabaseSpec = Static<typeof DatabaseSpecSchema>;
export type DatabaseStatus = Static<typeof DatabaseStatusSchema>;
export type DatabasePhase = (typeof DATABASE_PHASES)[number];
export type DeletionPolicy = (typeof DELETION_POLICIES)[number];
export interface Database extends KubeObject {
  spec: DatabaseSpec;
  status?: DatabaseStatus;
}

const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** Why `schedule` is not a 5-field cron expression, or undefined when it is one. */
export function cronError(schedule: string): string | undefined {
  const trimmed = schedule.trim();
  if (!CRON_MACROS.includes(trimmed) && trimmed.split(/\s+/).length !== 5) {
    return 'must have 5 fields (minute hour day-of-month month day-of-week) or be a macro such as @daily';
  }
  try {
    CronExpressionParser.parse(trimmed, { tz: 'UTC' });
    return undefined;
  } catch (e) {
    return `not a valid cron expression: ${(e as Error).message}`;
  }
}

function resourceErrors(resources: DatabaseSpec['resources']): FieldError[] {
  const errors: FieldError[] = [];
  for (const kind of ['requests', 'limits'] as const) {
    for (const [name, quantity] of Object.entries(resources?.[kind] ?? {})) {
      if (parseQuantity(quantity) < 0) errors.push(fieldInvalid(`spec.resources.${kind}.${name}`, quantity, 'must be greater than or equal to 0'));
    }
  }
  for (const name of ['cpu', 'memory'] as const) {
    const request = resources?.requests?.[name];
    const limit = resources?.limits?.[name];
    if (request !== undefined && limit !== undefined && parseQuantity(request) > parseQuantity(limit)) {
      errors.push(fieldInvalid(`spec.resources.requests.${name}`, request, `must be less than or equal to ${name} limit of ${limit}`));
    }
  }
  return errors;
}

function positiveSize(field: string, size: string | number | undefined): FieldError[] {
  return size !== undefined && parseQuantity(size) <= 0 ? [fieldInvalid(field, size, 'must be greater than zero')] : [];
}

function backupErrors(backup: DatabaseSpec['backup']): FieldError[] {
  const errors: FieldError[] = [];
  const repository = backup?.repository;
  if (repository) {
    if (repository.pvc && repository.s3) {
      errors.push(fieldForbidden('spec.backup.repository.s3', 'may not specify more than 1 repository type'));
    } else if (!repository.pvc && !repository.s3) {
      errors.push(fieldRequired('spec.backup.repository', 'must specify a repository type: pvc or s3'));
    }
    if (repository.pvc?.claimName !== undefined && repository.pvc.size !== undefined) {
      errors.push(fieldForbidden('spec.backup.repository.pvc.size', 'may not be set with claimName: the claim already exists'));
    }
    errors.push(...positiveSize('spec.backup.repository.pvc.size', repository.pvc?.size));
  }
  if (backup?.schedule !== undefined) {
    const problem = cronError(backup.schedule);
    if (problem) errors.push(fieldInvalid('spec.backup.schedule', backup.schedule, problem));
  }
  return errors;
}

/** What the schema cannot say: names, the engine's rules, quantities, one-of choices, cron. */
function semanticErrors(db: Database): FieldError[] {
  const spec = db.spec;
  const errors: FieldError[] = [];
  if (db.metadata?.name) errors.push(...dns1035LabelErrors('metadata.name', db.metadata.name, MAX_DATABASE_NAME));
  errors.push(...validateEngineSpec(spec, 'spec'));
  errors.push(...resourceErrors(spec.resources));
  errors.push(...positiveSize('spec.storage.size', spec.storage?.size));
  errors.push(...backupErrors(spec.backup));
  return errors;
}

/** Immutable engine and storage class, volumes that only grow, and the engine's update rules. */
function updateErrors(next: Partial<DatabaseSpec> | undefined, prev: Partial<DatabaseSpec> | undefined): FieldError[] {
  const errors: FieldError[] = [];
  if (prev?.engine !== undefined && next?.engine !== prev.engine) {
    errors.push(fieldInvalid('spec.engine', next?.engine, 'field is immutable'));
  }
  if (prev?.storage?.storageClassName !== next?.storage?.storageClassName) {
    errors.push(fieldInvalid('spec.storage.storageClassName', next?.storage?.storageClassName, 'field is immutable'));
  }
  const size = next?.storage?.size;
  const prevSize = prev?.storage?.size;
  if (isQuantity(size) && isQuantity(prevSize) && parseQuantity(size) < parseQuantity(prevSize)) {
    errors.push(fieldForbidden('spec.storage.size', `may not be smaller than the current size ${prevSize}: volumes cannot shrink`));
  }
  errors.push(...engineUpdateErrors(next, prev, 'spec'));
  return errors;
}

function warningsFor(db: Database): string[] {
  const backup = db.spec?.backup;
  const warnings: string[] = [];
  if (backup?.schedule && !backup.retention) {
    warnings.push('spec.backup.schedule is set without spec.backup.retention: scheduled backups are kept until deleted');
  }
  if (backup?.repository?.s3 && !backup.encryption) {
    warnings.push('spec.backup.encryption is not set: archives are stored unencrypted in the s3 bucket');
  }
  return warnings;
}

export const databaseDefinition: ResourceDefinition = {
  group: GROUP,
  version: VERSION,
  kind: 'Database',
  listKind: 'DatabaseList',
  plural: 'databases',
  singular: 'database',
  shortNames: ['db'],
  categories: ['strongroom', 'all'],
  namespaced: true,
  ...schemaAndValidation(DatabaseSchema, semanticErrors),
  applyDefaults(obj) {
    applyEngineDefaults(obj.spec);
  },
  validateUpdate(obj, old) {
    return updateErrors(obj.spec, old.spec);
  },
  warnings(obj) {
    return warningsFor(obj as Database);
  },
  printerColumns: [
    { name: 'Engine', type: 'string', description: 'The database engine.', priority: 0, jsonPath: '.spec.engine' },
    { name: 'Version', type: 'string', description: 'The engine version asked for.', priority: 0, jsonPath: '.spec.version' },
    {
      name: 'Ready',
      type: 'string',
      description: 'Ready members out of those asked for.',
      priority: 0,
      jsonPath: '.status.readyReplicas',
      cell: (obj) => `${obj.status?.readyReplicas ?? 0}/${obj.spec?.replicas ?? 1}`,
    },
    { name: 'Phase', type: 'string', description: 'A summary of the conditions.', priority: 0, jsonPath: '.status.phase' },
    {
      name: 'Last-Backup',
      type: 'date',
      description: 'When the newest completed backup completed.',
      priority: 0,
      jsonPath: '.status.lastBackup.completionTime',
    },
    { name: 'Endpoint', type: 'string', description: 'host:port of the read-write service.', priority: 1, jsonPath: '.status.endpoints.primary' },
    {
      name: 'Next-Backup',
      type: 'string',
      description: 'When the schedule takes the next backup (UTC).',
      priority: 1,
      jsonPath: '.status.nextBackupTime',
    },
    { name: 'Storage', type: 'string', description: 'Size of the data volume of each member.', priority: 1, jsonPath: '.spec.storage.size' },
  ],
  selectableFields: {
    'spec.engine': (obj) => obj.spec?.engine,
    'status.phase': (obj) => obj.status?.phase,
  },
  subresources: {
    status: true,
    scale: {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    },
    actions: {
      backup: { creates: 'backups', kind: 'Backup', bodyRequired: false, build: backupForDatabase },
      restore: { creates: 'restores', kind: 'Restore', bodyRequired: true, build: restoreForDatabase, describe: describeRestore },
    },
  },
};
