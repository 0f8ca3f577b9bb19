// The Jobs that run the backup agent (`strongroom agent`, whose command line is the contract at the top of
// src/agent/command.ts): the one that writes a Backup's archive, the one that deletes it, and those that load it into
// a Database. Pure: equal input gives byte-identical Jobs (maps in sorted key order, everything else in a fixed
// order), without owner references, which the caller adds.
//
// Secrets never appear in a Job: passwords, S3 keys and the encryption key reach the agent through secretKeyRef,
// envFrom and a Secret volume. Finished Jobs get no ttlSecondsAfterFinished: the controllers delete them once they
// have read the outcome (a failed backup's Job stays for its pod's logs).
import { createHash } from 'node:crypto';
import type { Backup } from '../../api/backup.ts';
import type { Database, DatabaseSpec } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { Restore } from '../../api/restore.ts';
import {
  BACKUP_AGENT_ROLE,
  childNames,
  CLIENT_OF_LABEL,
  CONTAINER_SECURITY_CONTEXT,
  credentialEnv,
  DATA_VOLUME,
  DATABASE_LABEL,
  MANAGED_BY,
  podSecurityContext,
  ROLE_LABEL,
  serviceHost,
} from '../../engines/common.ts';
import type { AgentConnection, Engine } from '../../engines/engine.ts';
import { engineFor, isEngine } from '../../engines/registry.ts';

export const AGENT_SERVICE_ACCOUNT = 'strongroom-backup-agent';
/** On backup and archive-delete Jobs and their pods: the Backup they work for (the Backup controller watches it). */
export const BACKUP_LABEL = 'strongroom.dev/backup';
/** On restore Jobs and their pods: the Restore they work for (the Restore controller watches it). */
export const RESTORE_LABEL = 'strongroom.dev/restore';

export interface AgentSettings {
  image: string;
  serviceAccountName: string;
  imagePullPolicy?: string;
  /** The cluster's DNS domain, as the engines were given it; `cluster.local` when unset. */
  clusterDomain?: string;
}

type AgentCommand = 'backup' | 'restore' | 'delete';
type Component = 'backup' | 'restore' | 'archive-delete';

const MAX_NAME = 63;
const HASH_LENGTH = 8;

const REPOSITORY_MOUNT = '/var/lib/strongroom/repository';
const SCRATCH_MOUNT = '/var/lib/strongroom/scratch';
const ENCRYPTION_MOUNT = '/etc/strongroom/encryption';
const ENCRYPTION_FILE = 'key';
const DATA_MOUNT = '/var/lib/strongroom/data';
const TERMINATION_LOG = '/dev/termination-log';

/** The `node` user of the Strongroom image (apiservice/Dockerfile), for Jobs that write no data volume. */
const AGENT_UID = 1000;
/** Restore and archive deletion are safe to repeat (digest checked first, data swapped in whole; deletion idempotent). */
const RESTORE_BACKOFF_LIMIT = 2;
const BACKUP_BACKOFF_LIMIT = 2;
const BACKUP_DEADLINE_SECONDS = 21_600;
/** Requests only: the agent streams and needs little, and a memory limit would kill a large dump or load halfway. */
const RESOURCES = { requests: { cpu: '100m', memory: '128Mi' } };

function sorted(entries: [string, string][]): Record<string, string> {
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `value`, or when longer than `max` its start (cut at a character a name may end with) and a hash of all of it. */
function shortened(value: string, max: number): string {
  if (value.length <= max) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, HASH_LENGTH);
  const room = max - HASH_LENGTH - 1;
  if (room < 1) throw new Error(`no name of at most ${max} characters can hold ${value}`);
  return `${value.slice(0, room).replace(/[-.]+$/, '')}-${hash}`;
}

/** A Job name of at most 63 characters: `<base>-<suffix>`, the base cut and given a short hash when too long. */
export function agentJobName(base: string, suffix: string): string {
  return `${shortened(base, MAX_NAME - suffix.length - 1)}-${suffix}`;
}

/**
 * The value of BACKUP_LABEL or RESTORE_LABEL for an object named `name`: the name itself, or for a name longer than a
 * label value may be (Backup and Restore names may have 253 characters) its cut and hashed form.
 */
export function agentLabelValue(name: string): string {
  return shortened(name, MAX_NAME);
}

/** A volume with its mount in the agent container. */
interface Mounted {
  volume: Record<string, unknown>;
  mount: { name: string; mountPath: string; readOnly?: boolean };
}

/** How the agent reaches a repository: flags, the claim it mounts or the Secret with the S3 keys. */
interface RepositoryAccess {
  args: string[];
  mounted: Mounted[];
  envFrom: unknown[];
}

/**
 * The repository of `spec` (a Database's, live or as a Backup recorded it) of Database `database`. A PVC is mounted
 * read-write also by restores: a read-only mount would not take the pod's fsGroup, through which a restore running
 * as the engine's user reads archives a backup wrote as the agent's user.
 */
function repositoryAccess(spec: DatabaseSpec, database: string): RepositoryAccess {
  const s3 = spec.backup?.repository?.s3;
  if (s3) {
    const args = ['--repository', `s3://${s3.bucket}${s3.prefix ? `/${s3.prefix}` : ''}`];
    if (s3.endpoint) args.push('--s3-endpoint', s3.endpoint);
    if (s3.region) args.push('--s3-region', s3.region);
    if (s3.forcePathStyle) args.push('--s3-force-path-style');
    return { args, mounted: [], envFrom: [{ secretRef: { name: s3.credentialsSecret } }] };
  }
  const claimName = spec.backup?.repository?.pvc?.claimName ?? `${database}-backups`;
  return {
    args: ['--repository', `fs:${REPOSITORY_MOUNT}`, '--claim-name', claimName],
    mounted: [{ volume: { name: 'repository', persistentVolumeClaim: { claimName } }, mount: { name: 'repository', mountPath: REPOSITORY_MOUNT } }],
    envFrom: [],
  };
}

/** Local space for S3 downloads and etcd snapshots; the root filesystem is read-only. */
const SCRATCH: Mounted = {
  volume: { name: 'scratch', emptyDir: {} },
  mount: { name: 'scratch', mountPath: SCRATCH_MOUNT },
};

/** `--encryption-key-file` and the Secret volume behind it, when `spec` encrypts its archives. */
function encryptionAccess(spec: DatabaseSpec): { args: string[]; mounted: Mounted[] } {
  const encryption = spec.backup?.encryption;
  if (!encryption) return { args: [], mounted: [] };
  const items = [{ key: encryption.key ?? 'key', path: ENCRYPTION_FILE }];
  return {
    args: ['--encryption-key-file', `${ENCRYPTION_MOUNT}/${ENCRYPTION_FILE}`],
    mounted: [
      {
        // Readable by the pod's group (its fsGroup), which is the agent's user.
        volume: { name: 'encryption-key', secret: { secretName: encryption.secretName, items, defaultMode: 0o440 } },
        mount: { name: 'encryption-key', mountPath: ENCRYPTION_MOUNT, readOnly: true },
      },
    ],
  };
}

function dataVolume(claimName: string): Mounted {
  return { volume: { name: DATA_VOLUME, persistentVolumeClaim: { claimName } }, mount: { name: DATA_VOLUME, mountPath: DATA_MOUNT } };
}

/** The archive's place in the repository: <namespace>/<database>/<backup>. */
function archiveIdArgs(backup: Backup): string[] {
  return ['--namespace', backup.metadata.namespace!, '--database', backup.spec.databaseName, '--backup', backup.metadata.name!];
}

interface JobParts {
  name: string;
  namespace: string;
  component: Component;
  /** The Database whose NetworkPolicy must admit the pod (the one read from or written to). */
  database: string;
  /** BACKUP_LABEL or RESTORE_LABEL with the name of the object the Job works for. */
  owner: [string, string];
  command: AgentCommand;
  args: string[];
  env: unknown[];
  envFrom: unknown[];
  mounted: Mounted[];
  uid: number;
  backoffLimit: number;
  activeDeadlineSeconds?: number;
  /** Only an agent that reports to the API needs the service account's token. */
  reports: boolean;
}

function agentJob(parts: JobParts, settings: AgentSettings): KubeObject {
  const labels = sorted([
    ['app.kubernetes.io/component', parts.component],
    ['app.kubernetes.io/managed-by', MANAGED_BY],
    [CLIENT_OF_LABEL, parts.database],
    [DATABASE_LABEL, parts.database],
    [ROLE_LABEL, BACKUP_AGENT_ROLE],
    [parts.owner[0], agentLabelValue(parts.owner[1])],
  ]);
  const container = {
    name: 'agent',
    image: settings.image,
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    command: ['strongroom', 'agent', parts.command],
    args: [...parts.args, '--termination-message-path', TERMINATION_LOG],
    ...(parts.env.length > 0 ? { env: parts.env } : {}),
    ...(parts.envFrom.length > 0 ? { envFrom: parts.envFrom } : {}),
    resources: RESOURCES,
    securityContext: { ...CONTAINER_SECURITY_CONTEXT, readOnlyRootFilesystem: true },
    terminationMessagePath: TERMINATION_LOG,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    ...(parts.mounted.length > 0 ? { volumeMounts: parts.mounted.map((m) => m.mount) } : {}),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: parts.name, namespace: parts.namespace, labels },
    spec: {
      backoffLimit: parts.backoffLimit,
      ...(parts.activeDeadlineSeconds === undefined ? {} : { activeDeadlineSeconds: parts.activeDeadlineSeconds }),
      podFailurePolicy: {
        rules: [
          // Exit status 2 is a command line the agent cannot act on: another pod would get the same answer.
          { action: 'FailJob', onExitCodes: { containerName: 'agent', operator: 'In', values: [2] } },
          // A pod evicted or preempted did not fail; its retry does not count against backoffLimit.
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
        ],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: settings.serviceAccountName,
          automountServiceAccountToken: parts.reports,
          enableServiceLinks: false,
          securityContext: podSecurityContext(parts.uid),
          containers: [container],
          ...(parts.mounted.length > 0 ? { volumes: parts.mounted.map((m) => m.volume) } : {}),
        },
      },
    },
  };
}

/** The engine and method a Backup's archive was made with, as recorded when its Job was created. */
function recordedArchive(backup: Backup): { spec: DatabaseSpec; engine: Engine; method: string } {
  const spec = backup.status?.databaseSpec;
  const name = backup.status?.engine ?? spec?.engine;
  if (!spec || !isEngine(name)) {
    throw new Error(`Backup ${backup.metadata.namespace}/${backup.metadata.name} records no status.databaseSpec: where its archive is is unknown`);
  }
  const engine = engineFor(name);
  return { spec, engine, method: backup.status?.method ?? backup.spec.method ?? engine.backup.methods[0] };
}

/** The agent's flags and password for `connection` to the client Service of `db`. */
function connectionAccess(engine: Engine, db: Database, connection: AgentConnection, settings: AgentSettings) {
  return {
    args: [
      '--host', serviceHost(db, childNames(db).client, settings),
      '--port', String(engine.defaultPort),
      ...(connection.username ? ['--username', connection.username] : []),
      ...(connection.dbname ? ['--dbname', connection.dbname] : []),
    ],
    env: [credentialEnv(db, 'STRONGROOM_DB_PASSWORD', connection.credentialKey)],
  };
}

/** The Job that writes the archive of `backup`: reads from the live `db` (at creation time), reports to the Backup's status in-cluster. */
export function backupJob(db: Database, backup: Backup, settings: AgentSettings): KubeObject {
  const engine = engineFor(db.spec.engine);
  const method = backup.spec.method ?? engine.backup.methods[0];
  const name = db.metadata.name!;
  const repository = repositoryAccess(db.spec, name);
  const encryption = encryptionAccess(db.spec);
  const connection = connectionAccess(engine, db, engine.agent.backup(db, method), settings);
  const args = [
    '--engine', engine.name,
    '--method', method,
    ...connection.args,
    ...repository.args,
    ...archiveIdArgs(backup),
    ...(db.metadata.uid ? ['--database-uid', db.metadata.uid] : []),
    ...(backup.metadata.uid ? ['--backup-uid', backup.metadata.uid] : []),
    '--compression', db.spec.backup?.compression ?? 'zstd',
    ...encryption.args,
    '--scratch-dir', SCRATCH_MOUNT,
    '--report-to', 'in-cluster',
  ];
  return agentJob(
    {
      name: agentJobName(backup.metadata.name!, 'backup'),
      namespace: backup.metadata.namespace!,
      component: 'backup',
      database: name,
      owner: [BACKUP_LABEL, backup.metadata.name!],
      command: 'backup',
      args,
      env: connection.env,
      envFrom: repository.envFrom,
      mounted: [...repository.mounted, SCRATCH, ...encryption.mounted],
      uid: AGENT_UID,
      backoffLimit: db.spec.backup?.backoffLimit ?? BACKUP_BACKOFF_LIMIT,
      activeDeadlineSeconds: db.spec.backup?.activeDeadlineSeconds ?? BACKUP_DEADLINE_SECONDS,
      reports: true,
    },
    settings,
  );
}

/**
 * The Job that deletes the archive of a Backup, from the repository recorded in backup.status.databaseSpec. No
 * deadline: deleting is idempotent, and a Backup cannot go before its archive has.
 */
export function archiveDeleteJob(backup: Backup, settings: AgentSettings): KubeObject {
  const { spec } = recordedArchive(backup);
  const repository = repositoryAccess(spec, backup.spec.databaseName);
  return agentJob(
    {
      name: agentJobName(backup.metadata.name!, 'delete'),
      namespace: backup.metadata.namespace!,
      component: 'archive-delete',
      database: backup.spec.databaseName,
      owner: [BACKUP_LABEL, backup.metadata.name!],
      command: 'delete',
      args: [...repository.args, ...archiveIdArgs(backup)],
      env: [],
      envFrom: repository.envFrom,
      mounted: repository.mounted,
      uid: AGENT_UID,
      backoffLimit: RESTORE_BACKOFF_LIMIT,
      reports: false,
    },
    settings,
  );
}

/**
 * The Jobs that load `backup` into `target` for `restore`. For an engine that loads over a connection, one Job into
 * target's client Service (pass `role`, the engine's `restoreRole` of the target, when the target is a new Database);
 * for one that loads into volumes, one Job per member the engine restores (`BackupRules.restoredMembers` of
 * `members`), each mounting that member's data claim `data-<target>-<ordinal>` with the engine's `memberArgs`; the
 * other members copy the restored ones when they start. Repository, encryption, engine and method come from
 * backup.status.databaseSpec / backup.status / backup.spec, never from target's spec.
 *
 * No deadline: a load stopped halfway leaves a stopped database with partly written volumes, which is worse than a
 * slow one; deleting the Restore stops it. Retries are safe: the agent checks the digest before it changes anything,
 * a load over a connection runs in one transaction and a data directory is swapped in whole.
 */
export function restoreJobs(
  restore: Restore,
  backup: Backup,
  target: Database,
  settings: AgentSettings,
  options: { members: number; role?: string },
): KubeObject[] {
  const { spec, engine, method } = recordedArchive(backup);
  const sha256 = backup.status?.sha256;
  if (!sha256) throw new Error(`Backup ${backup.metadata.namespace}/${backup.metadata.name} records no sha256: only a Completed backup can be restored`);
  const repository = repositoryAccess(spec, backup.spec.databaseName);
  const encryption = encryptionAccess(spec);
  const common = [
    '--engine', engine.name,
    ...repository.args,
    ...archiveIdArgs(backup),
    '--sha256', sha256,
    ...encryption.args,
    '--scratch-dir', SCRATCH_MOUNT,
  ];
  const job = (suffix: string, parts: Pick<JobParts, 'args' | 'env' | 'mounted' | 'uid'>) =>
    agentJob(
      {
        name: agentJobName(restore.metadata.name!, suffix),
        namespace: restore.metadata.namespace!,
        component: 'restore',
        database: target.metadata.name!,
        owner: [RESTORE_LABEL, restore.metadata.name!],
        command: 'restore',
        envFrom: repository.envFrom,
        backoffLimit: RESTORE_BACKOFF_LIMIT,
        reports: false,
        ...parts,
        mounted: [...repository.mounted, SCRATCH, ...encryption.mounted, ...parts.mounted],
      },
      settings,
    );

  if (engine.backup.loadMode(method) === 'connection') {
    const connection = connectionAccess(engine, target, engine.agent.restore(target), settings);
    const args = [...common, ...connection.args, ...(options.role ? ['--role', options.role] : [])];
    return [job('restore', { args, env: connection.env, mounted: [], uid: AGENT_UID })];
  }

  const members = engine.backup.restoredMembers(method, options.members);
  const { uid, dataSubPath, memberArgs } = engine.agent;
  return Array.from({ length: members }, (_, ordinal) =>
    job(`restore-${ordinal}`, {
      args: [
        ...common,
        '--data-dir', dataSubPath ? `${DATA_MOUNT}/${dataSubPath}` : DATA_MOUNT,
        ...(memberArgs ? memberArgs(target, ordinal, members, settings) : []),
      ],
      env: [],
      mounted: [dataVolume(`${DATA_VOLUME}-${childNames(target).statefulSet}-${ordinal}`)],
      uid,
    }),
  );
}
