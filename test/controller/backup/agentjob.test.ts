import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import type { Backup } from '../../../src/api/backup.ts';
import type { Database, DatabaseSpec } from '../../../src/api/database.ts';
import type { EngineName as Engine } from '../../../src/engines/registry.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Restore } from '../../../src/api/restore.ts';
import {
  agentJobName,
  agentLabelValue,
  archiveDeleteJob,
  backupJob,
  restoreJobs,
  type AgentSettings,
} from '../../../src/controller/backup/agentjob.ts';
import { configData, database, find, podSpec, render } from '../../engines/fixtures.ts';

const SETTINGS: AgentSettings = { image: 'ghcr.io/strongroom/strongroom:v0.1.0', serviceAccountName: 'strongroom-backup-agent' };
const DB_UID = '6f1c2a9e-0000-4000-8000-000000000001';
const SHA = 'a'.repeat(64);
const REPOSITORY = '/var/lib/strongroom/repository';
const SCRATCH = '/var/lib/strongroom/scratch';
const KEY_FILE = '/etc/strongroom/encryption/key';
const TERMINATION = ['--termination-message-path', '/dev/termination-log'];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const S3_FULL = {
  s3: { bucket: 'archives', prefix: 'prod/orders/', endpoint: 'https://minio.storage:9000', region: 'eu-west-1', forcePathStyle: true, credentialsSecret: 's3-keys' },
};
const ENCRYPTION = { secretName: 'backup-key', key: 'aes' };

function backupOf(db: Database, name = 'orders-manual', extra: Partial<Backup['spec']> = {}): Backup {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, namespace: 'shop', uid: 'backup-uid' },
    spec: { databaseName: db.metadata.name!, ...extra },
  };
}

/** A Completed backup of `spec` as the Backup controller records it. */
function completed(spec: DatabaseSpec, method: string, name = 'orders-manual', databaseName = 'orders'): Backup {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name, namespace: 'shop', uid: 'backup-uid' },
    spec: { databaseName, method: method as Backup['spec']['method'] },
    status: { phase: 'Completed', engine: spec.engine, method: method as Backup['spec']['method'], databaseSpec: spec, sha256: SHA, sizeBytes: 10, location: 'x' },
  };
}

function restoreOf(name = 'orders-restore', newDatabase?: string): Restore {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Restore',
    metadata: { name, namespace: 'shop' },
    spec: { databaseName: 'orders', backupName: 'orders-manual', target: newDatabase ? { newDatabase: { name: newDatabase } } : { inPlace: {} } },
  };
}

const podOf = (job: KubeObject) => job.spec.template.spec;
const containerOf = (job: KubeObject) => podOf(job).containers[0];
const argsOf = (job: KubeObject): string[] => containerOf(job).args;
const flag = (job: KubeObject, name: string): string | undefined => {
  const args = argsOf(job);
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};

describe('agentJobName', () => {
  const long = `nightly-${'x'.repeat(80)}`;
  const cases: { base: string; suffix: string; expect?: string }[] = [
    { base: 'orders-manual', suffix: 'backup', expect: 'orders-manual-backup' },
    { base: 'a'.repeat(56), suffix: 'backup', expect: `${'a'.repeat(56)}-backup` },
    { base: long, suffix: 'backup' },
    { base: long, suffix: 'restore-4' },
    { base: `${'b'.repeat(45)}.-${'c'.repeat(30)}`, suffix: 'delete' },
  ];
  for (const { base, suffix, expect } of cases) {
    it(`${base.slice(0, 20)}… + ${suffix}`, () => {
      const name = agentJobName(base, suffix);
      if (expect) assert.equal(name, expect);
      assert.ok(name.length <= 63, `${name} has ${name.length} characters`);
      assert.ok(name.endsWith(`-${suffix}`));
      assert.match(name, DNS1123_SUBDOMAIN);
      assert.equal(agentJobName(base, suffix), name);
    });
  }

  it('keeps long names that share a start apart', () => {
    assert.notEqual(agentJobName(`${long}-1`, 'backup'), agentJobName(`${long}-2`, 'backup'));
    assert.ok(agentJobName(long, 'backup').startsWith('nightly-xxx'));
  });

  it('gives label values of at most 63 characters, unchanged when they fit', () => {
    assert.equal(agentLabelValue('orders-manual'), 'orders-manual');
    const value = agentLabelValue(long);
    assert.ok(value.length <= 63);
    assert.match(value, /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/);
  });
});

describe('backupJob', () => {
  const cases: { title: string; engine: Engine; spec: Partial<DatabaseSpec>; method?: string; args: string[]; passwordKey: string; envFrom?: unknown; volumes: unknown[] }[] = [
    {
      title: 'postgres dump to the default claim',
      engine: 'postgres',
      spec: {},
      args: [
        '--engine', 'postgres', '--method', 'dump', '--host', 'orders.shop.svc.cluster.local', '--port', '5432', '--dbname', 'orders',
        '--repository', `fs:${REPOSITORY}`, '--claim-name', 'orders-backups',
        '--namespace', 'shop', '--database', 'orders', '--backup', 'orders-manual', '--database-uid', DB_UID, '--backup-uid', 'backup-uid',
        '--compression', 'zstd', '--scratch-dir', SCRATCH, '--report-to', 'in-cluster', ...TERMINATION,
      ],
      passwordKey: 'superuser-password',
      volumes: [
        { name: 'repository', persistentVolumeClaim: { claimName: 'orders-backups' } },
        { name: 'scratch', emptyDir: {} },
      ],
    },
    {
      title: 'postgres basebackup, as the replication role, encrypted, to a named claim',
      engine: 'postgres',
      spec: { backup: { repository: { pvc: { claimName: 'shared-archives' } }, compression: 'gzip', encryption: ENCRYPTION } },
      method: 'basebackup',
      args: [
        '--engine', 'postgres', '--method', 'basebackup', '--host', 'orders.shop.svc.cluster.local', '--port', '5432', '--username', 'replicator',
        '--repository', `fs:${REPOSITORY}`, '--claim-name', 'shared-archives',
        '--namespace', 'shop', '--database', 'orders', '--backup', 'orders-manual', '--database-uid', DB_UID, '--backup-uid', 'backup-uid',
        '--compression', 'gzip', '--encryption-key-file', KEY_FILE, '--scratch-dir', SCRATCH, '--report-to', 'in-cluster', ...TERMINATION,
      ],
      passwordKey: 'replication-password',
      volumes: [
        { name: 'repository', persistentVolumeClaim: { claimName: 'shared-archives' } },
        { name: 'scratch', emptyDir: {} },
        { name: 'encryption-key', secret: { secretName: 'backup-key', items: [{ key: 'aes', path: 'key' }], defaultMode: 0o440 } },
      ],
    },
    {
      title: 'redis rdb to S3 with every option',
      engine: 'redis',
      spec: { backup: { repository: S3_FULL } },
      args: [
        '--engine', 'redis', '--method', 'rdb', '--host', 'orders.shop.svc.cluster.local', '--port', '6379',
        '--repository', 's3://archives/prod/orders/', '--s3-endpoint', 'https://minio.storage:9000', '--s3-region', 'eu-west-1', '--s3-force-path-style',
        '--namespace', 'shop', '--database', 'orders', '--backup', 'orders-manual', '--database-uid', DB_UID, '--backup-uid', 'backup-uid',
        '--compression', 'zstd', '--scratch-dir', SCRATCH, '--report-to', 'in-cluster', ...TERMINATION,
      ],
      passwordKey: 'password',
      envFrom: [{ secretRef: { name: 's3-keys' } }],
      volumes: [{ name: 'scratch', emptyDir: {} }],
    },
    {
      title: 'etcd snapshot to a bare S3 bucket, uncompressed, encrypted with the default key',
      engine: 'etcd',
      spec: { backup: { repository: { s3: { bucket: 'archives', credentialsSecret: 's3-keys' } }, compression: 'none', encryption: { secretName: 'backup-key' } } },
      args: [
        '--engine', 'etcd', '--method', 'snapshot', '--host', 'orders.shop.svc.cluster.local', '--port', '2379',
        '--repository', 's3://archives',
        '--namespace', 'shop', '--database', 'orders', '--backup', 'orders-manual', '--database-uid', DB_UID, '--backup-uid', 'backup-uid',
        '--compression', 'none', '--encryption-key-file', KEY_FILE, '--scratch-dir', SCRATCH, '--report-to', 'in-cluster', ...TERMINATION,
      ],
      passwordKey: 'root-password',
      envFrom: [{ secretRef: { name: 's3-keys' } }],
      volumes: [
        { name: 'scratch', emptyDir: {} },
        { name: 'encryption-key', secret: { secretName: 'backup-key', items: [{ key: 'key', path: 'key' }], defaultMode: 0o440 } },
      ],
    },
  ];
  for (const c of cases) {
    it(c.title, () => {
      const db = database(c.engine, c.spec);
      const job = backupJob(db, backupOf(db, 'orders-manual', c.method ? { method: c.method as Backup['spec']['method'] } : {}), SETTINGS);
      const container = containerOf(job);
      assert.deepEqual(container.command, ['strongroom', 'agent', 'backup']);
      assert.deepEqual(container.args, c.args);
      assert.deepEqual(container.env, [{ name: 'STRONGROOM_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'orders-credentials', key: c.passwordKey } } }]);
      assert.deepEqual(container.envFrom, c.envFrom);
      assert.deepEqual(podOf(job).volumes, c.volumes);
      assert.deepEqual(
        container.volumeMounts.map((m: { name: string }) => m.name),
        c.volumes.map((v) => (v as { name: string }).name),
      );
    });
  }

  it('is a Job of the Backup that the Database admits and the controller finds', () => {
    const db = database('postgres');
    const job = backupJob(db, backupOf(db), SETTINGS);
    const labels = {
      'app.kubernetes.io/component': 'backup',
      'app.kubernetes.io/managed-by': 'strongroom',
      'strongroom.dev/backup': 'orders-manual',
      'strongroom.dev/client-of': 'orders',
      'strongroom.dev/database': 'orders',
      'strongroom.dev/role': 'backup-agent',
    };
    assert.deepEqual(job.metadata, { name: 'orders-manual-backup', namespace: 'shop', labels });
    assert.deepEqual(Object.keys(job.metadata.labels), Object.keys(labels).sort());
    assert.deepEqual(job.spec.template.metadata, { labels });
    assert.equal(job.spec.ttlSecondsAfterFinished, undefined);
    const pod = podOf(job);
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.serviceAccountName, 'strongroom-backup-agent');
    assert.equal(pod.automountServiceAccountToken, true);
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const container = containerOf(job);
    assert.equal(container.image, SETTINGS.image);
    assert.equal(container.imagePullPolicy, undefined);
    assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true });
    assert.equal(container.terminationMessagePath, '/dev/termination-log');
    assert.equal(container.terminationMessagePolicy, 'FallbackToLogsOnError');
    assert.deepEqual(container.resources, { requests: { cpu: '100m', memory: '128Mi' } });
    assert.deepEqual(container.volumeMounts, [
      { name: 'repository', mountPath: REPOSITORY },
      { name: 'scratch', mountPath: SCRATCH },
    ]);
  });

  const limits: { spec: Partial<DatabaseSpec>; backoffLimit: number; activeDeadlineSeconds: number }[] = [
    { spec: {}, backoffLimit: 2, activeDeadlineSeconds: 21600 },
    { spec: { backup: { backoffLimit: 0, activeDeadlineSeconds: 600 } }, backoffLimit: 0, activeDeadlineSeconds: 600 },
    { spec: { backup: { backoffLimit: 5 } }, backoffLimit: 5, activeDeadlineSeconds: 21600 },
  ];
  for (const { spec, backoffLimit, activeDeadlineSeconds } of limits) {
    it(`retries ${backoffLimit} times within ${activeDeadlineSeconds} s for spec.backup ${JSON.stringify(spec.backup ?? {})}`, () => {
      const db = database('redis', spec);
      const job = backupJob(db, backupOf(db), SETTINGS);
      assert.equal(job.spec.backoffLimit, backoffLimit);
      assert.equal(job.spec.activeDeadlineSeconds, activeDeadlineSeconds);
    });
  }

  it('fails at once on a command line the agent refuses, and does not count evictions', () => {
    const db = database('redis');
    assert.deepEqual(backupJob(db, backupOf(db), SETTINGS).spec.podFailurePolicy.rules, [
      { action: 'FailJob', onExitCodes: { containerName: 'agent', operator: 'In', values: [2] } },
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
    ]);
  });

  it('passes the pull policy and cluster domain of the settings', () => {
    const db = database('postgres');
    const job = backupJob(db, backupOf(db), { ...SETTINGS, imagePullPolicy: 'IfNotPresent', clusterDomain: 'corp.example' });
    assert.equal(containerOf(job).imagePullPolicy, 'IfNotPresent');
    assert.equal(flag(job, '--host'), 'orders.shop.svc.corp.example');
  });

  it('leaves out the uids a Database or Backup does not have yet', () => {
    const db = database('etcd');
    delete db.metadata.uid;
    const backup = backupOf(db);
    delete backup.metadata.uid;
    const args = argsOf(backupJob(db, backup, SETTINGS));
    assert.ok(!args.includes('--database-uid') && !args.includes('--backup-uid'));
  });

  it('gives equal input byte-identical output', () => {
    const db = database('postgres', { backup: { repository: S3_FULL, encryption: ENCRYPTION } });
    assert.equal(JSON.stringify(backupJob(db, backupOf(db), SETTINGS)), JSON.stringify(backupJob(structuredClone(db), backupOf(db), SETTINGS)));
  });
});

describe('archiveDeleteJob', () => {
  it('deletes from the claim the backup recorded, with nothing but the repository', () => {
    const recorded: DatabaseSpec = { engine: 'postgres', backup: { repository: { pvc: { claimName: 'old-archives' } }, encryption: ENCRYPTION } };
    const job = archiveDeleteJob(completed(recorded, 'dump'), SETTINGS);
    assert.equal(job.metadata.name, 'orders-manual-delete');
    assert.equal(job.metadata.labels!['app.kubernetes.io/component'], 'archive-delete');
    assert.equal(job.metadata.labels!['strongroom.dev/backup'], 'orders-manual');
    assert.deepEqual(containerOf(job).command, ['strongroom', 'agent', 'delete']);
    assert.deepEqual(argsOf(job), [
      '--repository', `fs:${REPOSITORY}`, '--claim-name', 'old-archives', '--namespace', 'shop', '--database', 'orders', '--backup', 'orders-manual', ...TERMINATION,
    ]);
    assert.deepEqual(podOf(job).volumes, [{ name: 'repository', persistentVolumeClaim: { claimName: 'old-archives' } }]);
    assert.equal(containerOf(job).env, undefined);
    assert.equal(job.spec.backoffLimit, 2);
    assert.equal(job.spec.activeDeadlineSeconds, undefined);
    assert.equal(podOf(job).automountServiceAccountToken, false);
  });

  it('deletes from S3 with the credentials Secret only', () => {
    const job = archiveDeleteJob(completed({ engine: 'redis', backup: { repository: S3_FULL } }, 'rdb'), SETTINGS);
    assert.deepEqual(argsOf(job).slice(0, 7), ['--repository', 's3://archives/prod/orders/', '--s3-endpoint', 'https://minio.storage:9000', '--s3-region', 'eu-west-1', '--s3-force-path-style']);
    assert.deepEqual(containerOf(job).envFrom, [{ secretRef: { name: 's3-keys' } }]);
    assert.equal(podOf(job).volumes, undefined);
    assert.equal(containerOf(job).volumeMounts, undefined);
  });

  it('defaults the claim to <database>-backups of the backed-up database', () => {
    const job = archiveDeleteJob(completed({ engine: 'etcd', backup: {} }, 'snapshot', 'b1', 'payments'), SETTINGS);
    assert.equal(flag(job, '--claim-name'), 'payments-backups');
    assert.equal(job.metadata.labels!['strongroom.dev/database'], 'payments');
  });

  it('refuses a Backup that did not record where its archive went', () => {
    const db = database('postgres');
    assert.throws(() => archiveDeleteJob(backupOf(db), SETTINGS), /records no status\.databaseSpec/);
  });
});

describe('restoreJobs', () => {
  const commonArgs = (engine: string, extra: string[] = []) => [
    '--engine', engine, '--repository', `fs:${REPOSITORY}`, '--claim-name', 'orders-backups',
    '--namespace', 'shop', '--database', 'orders', '--backup', 'orders-manual', '--sha256', SHA, ...extra, '--scratch-dir', SCRATCH,
  ];

  it('loads a postgres dump through the client Service of a new Database as its role', () => {
    const target = database('postgres', {}, 'orders-copy');
    const [job, ...more] = restoreJobs(restoreOf('r1', 'orders-copy'), completed({ engine: 'postgres', backup: {} }, 'dump'), target, SETTINGS, { members: 3, role: 'orders_copy' });
    assert.equal(more.length, 0);
    assert.equal(job!.metadata.name, 'r1-restore');
    assert.deepEqual(containerOf(job!).command, ['strongroom', 'agent', 'restore']);
    assert.deepEqual(argsOf(job!), [
      ...commonArgs('postgres'),
      '--host', 'orders-copy.shop.svc.cluster.local', '--port', '5432', '--dbname', 'orders_copy', '--role', 'orders_copy', ...TERMINATION,
    ]);
    assert.deepEqual(containerOf(job!).env, [{ name: 'STRONGROOM_DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'orders-copy-credentials', key: 'superuser-password' } } }]);
    assert.deepEqual(job!.metadata.labels, {
      'app.kubernetes.io/component': 'restore',
      'app.kubernetes.io/managed-by': 'strongroom',
      'strongroom.dev/client-of': 'orders-copy',
      'strongroom.dev/database': 'orders-copy',
      'strongroom.dev/restore': 'r1',
      'strongroom.dev/role': 'backup-agent',
    });
    assert.equal(podOf(job!).securityContext.runAsUser, 1000);
    assert.equal(podOf(job!).automountServiceAccountToken, false);
    assert.equal(job!.spec.backoffLimit, 2);
    assert.equal(job!.spec.activeDeadlineSeconds, undefined);
  });

  it('takes repository, encryption and method from the backup, never from the target', () => {
    const recorded: DatabaseSpec = { engine: 'postgres', backup: { repository: { pvc: {} }, encryption: ENCRYPTION } };
    const target = database('postgres', { backup: { repository: S3_FULL, compression: 'none' } });
    const [job] = restoreJobs(restoreOf(), completed(recorded, 'dump'), target, SETTINGS, { members: 1 });
    assert.deepEqual(argsOf(job!), [
      ...commonArgs('postgres', ['--encryption-key-file', KEY_FILE]),
      '--host', 'orders.shop.svc.cluster.local', '--port', '5432', '--dbname', 'orders', ...TERMINATION,
    ]);
    assert.equal(containerOf(job!).envFrom, undefined);
    assert.deepEqual(podOf(job!).volumes, [
      { name: 'repository', persistentVolumeClaim: { claimName: 'orders-backups' } },
      { name: 'scratch', emptyDir: {} },
      { name: 'encryption-key', secret: { secretName: 'backup-key', items: [{ key: 'aes', path: 'key' }], defaultMode: 0o440 } },
    ]);
  });

  const volumeCases: { engine: Engine; method: string; members: number; dataDir: string; uid: number }[] = [
    { engine: 'postgres', method: 'basebackup', members: 3, dataDir: '/var/lib/strongroom/data/pgdata', uid: 999 },
    { engine: 'redis', method: 'rdb', members: 3, dataDir: '/var/lib/strongroom/data', uid: 999 },
  ];
  for (const { engine, method, members, dataDir, uid } of volumeCases) {
    it(`${engine} ${method}: one Job, into member 0's volume as the engine's user`, () => {
      const jobs = restoreJobs(restoreOf(), completed({ engine, backup: {} }, method), database(engine, { replicas: members }), SETTINGS, { members });
      assert.deepEqual(jobs.map((j) => j.metadata.name), ['orders-restore-restore-0']);
      const job = jobs[0]!;
      assert.deepEqual(argsOf(job), [...commonArgs(engine), '--data-dir', dataDir, ...TERMINATION]);
      assert.equal(containerOf(job).env, undefined);
      assert.equal(podOf(job).securityContext.runAsUser, uid);
      assert.equal(podOf(job).securityContext.fsGroup, uid);
      assert.deepEqual(podOf(job).volumes.at(-1), { name: 'data', persistentVolumeClaim: { claimName: 'data-orders-0' } });
      assert.deepEqual(containerOf(job).volumeMounts.at(-1), { name: 'data', mountPath: '/var/lib/strongroom/data' });
    });
  }

  it('etcd: one Job per member, each with its own identity in the same initial cluster', () => {
    const target = database('etcd', { replicas: 3 }, 'config-store');
    target.metadata.uid = 'target-uid';
    const jobs = restoreJobs(restoreOf('r2'), completed({ engine: 'etcd', backup: {} }, 'snapshot'), target, SETTINGS, { members: 3 });
    assert.deepEqual(jobs.map((j) => j.metadata.name), ['r2-restore-0', 'r2-restore-1', 'r2-restore-2']);
    const peer = (n: number) => `http://config-store-${n}.config-store-headless.shop.svc.cluster.local:2380`;
    const cluster = [0, 1, 2].map((n) => `config-store-${n}=${peer(n)}`).join(',');
    assert.deepEqual(argsOf(jobs[1]!), [
      ...commonArgs('etcd'),
      '--data-dir', '/var/lib/strongroom/data/data',
      '--etcd-name', 'config-store-1', '--etcd-initial-cluster', cluster, '--etcd-initial-advertise-peer-urls', peer(1), '--etcd-initial-cluster-token', 'target-uid',
      ...TERMINATION,
    ]);
    jobs.forEach((job, n) => {
      assert.equal(flag(job, '--etcd-initial-cluster'), cluster);
      assert.equal(flag(job, '--etcd-name'), `config-store-${n}`);
      assert.equal(podOf(job).volumes.at(-1).persistentVolumeClaim.claimName, `data-config-store-${n}`);
      assert.equal(podOf(job).securityContext.runAsUser, 65532);
    });
  });

  it('etcd: a single member is its own initial cluster', () => {
    const jobs = restoreJobs(restoreOf(), completed({ engine: 'etcd', backup: {} }, 'snapshot'), database('etcd'), SETTINGS, { members: 1 });
    assert.equal(jobs.length, 1);
    assert.equal(flag(jobs[0]!, '--etcd-initial-cluster'), 'orders-0=http://orders-0.orders-headless.shop.svc.cluster.local:2380');
  });

  it('restores from S3 with the recorded endpoint and credentials', () => {
    const [job] = restoreJobs(restoreOf(), completed({ engine: 'redis', backup: { repository: S3_FULL } }, 'rdb'), database('redis'), SETTINGS, { members: 1 });
    assert.equal(flag(job!, '--repository'), 's3://archives/prod/orders/');
    assert.ok(argsOf(job!).includes('--s3-force-path-style'));
    assert.deepEqual(containerOf(job!).envFrom, [{ secretRef: { name: 's3-keys' } }]);
    assert.deepEqual(podOf(job!).volumes.map((v: { name: string }) => v.name), ['scratch', 'data']);
  });

  const refusals: { title: string; backup: Backup; error: RegExp }[] = [
    { title: 'no recorded spec', backup: { ...completed({ engine: 'postgres' }, 'dump'), status: { phase: 'Completed', sha256: SHA } }, error: /records no status\.databaseSpec/ },
    { title: 'no digest', backup: { ...completed({ engine: 'postgres' }, 'dump'), status: { phase: 'Completed', engine: 'postgres', databaseSpec: { engine: 'postgres' } } }, error: /records no sha256/ },
  ];
  for (const { title, backup, error } of refusals) {
    it(`refuses a backup with ${title}`, () => {
      assert.throws(() => restoreJobs(restoreOf(), backup, database('postgres'), SETTINGS, { members: 1 }), error);
    });
  }

  it('keeps names and label values of long Restores within 63 characters', () => {
    const name = `restore-${'n'.repeat(120)}`;
    const jobs = restoreJobs(restoreOf(name), completed({ engine: 'etcd', backup: {} }, 'snapshot', `backup-${'m'.repeat(120)}`), database('etcd'), SETTINGS, { members: 3 });
    assert.equal(new Set(jobs.map((j) => j.metadata.name)).size, 3);
    for (const job of jobs) {
      assert.ok(job.metadata.name!.length <= 63);
      for (const value of Object.values(job.metadata.labels!)) assert.ok(value.length <= 63, value);
      assert.equal(job.metadata.labels!['strongroom.dev/restore'], agentLabelValue(name));
    }
  });
});

describe('agent Jobs and the engines', () => {
  // The agent writes where the engine's members read, as the user they run as, on the ports their Services serve.
  const members = 3;
  for (const engine of ['postgres', 'redis', 'etcd'] as const) {
    const method = { postgres: 'basebackup', redis: 'rdb', etcd: 'snapshot' }[engine];
    it(`${engine}: data directory, user and port match the StatefulSet`, () => {
      const db = database(engine, { replicas: members });
      const state = render(db);
      const pod = podSpec(state);
      const member = pod.containers[0];
      const mount = member.volumeMounts.find((m: { name: string }) => m.name === 'data').mountPath as string;
      const memberDataDir = {
        postgres: () => member.env.find((e: { name: string }) => e.name === 'PGDATA').value as string,
        redis: () => /^dir (.*)$/m.exec(configData(state, 'orders-config')['redis.conf']!)![1]!,
        etcd: () => (member.args as string[]).find((a) => a.startsWith('--data-dir='))!.slice('--data-dir='.length),
      }[engine]();
      const [job] = restoreJobs(restoreOf(), completed({ engine, backup: {} }, method), db, SETTINGS, { members });
      assert.equal(relative('/var/lib/strongroom/data', flag(job!, '--data-dir')!), relative(mount, memberDataDir));
      assert.equal(podOf(job!).securityContext.runAsUser, pod.securityContext.runAsUser);
      const service = find(state, 'Service', 'orders');
      assert.equal(flag(backupJob(db, backupOf(db), SETTINGS), '--port'), String(service.spec.ports[0].port));
    });
  }

  it('etcd: the restored cluster is the one the members are configured to start', () => {
    const db = database('etcd', { replicas: members });
    const cluster = configData(render(db), 'orders-cluster');
    for (const job of restoreJobs(restoreOf(), completed({ engine: 'etcd', backup: {} }, 'snapshot'), db, SETTINGS, { members })) {
      assert.equal(flag(job, '--etcd-initial-cluster'), cluster['ETCD_INITIAL_CLUSTER']);
      assert.equal(flag(job, '--etcd-initial-cluster-token'), cluster['ETCD_INITIAL_CLUSTER_TOKEN']);
    }
  });

  it('postgres basebackup: the role pg_hba.conf admits to replication connections', () => {
    const db = database('postgres');
    const hba = configData(render(db), 'orders-config')['pg_hba.conf']!;
    const user = flag(backupJob(db, backupOf(db, 'b', { method: 'basebackup' }), SETTINGS), '--username')!;
    assert.match(hba, new RegExp(`^host\\s+replication\\s+${user}\\s`, 'm'));
  });
});

describe('secrets in agent Jobs', () => {
  const MARKER = 'SECRET-MARKER-7f3a';
  for (const engine of ['postgres', 'redis', 'etcd'] as const) {
    it(`${engine}: passwords, S3 keys and the encryption key are referenced, never inlined`, () => {
      const spec = { replicas: 3, backup: { repository: S3_FULL, encryption: ENCRYPTION } };
      const db = database(engine, spec);
      // The credentials as the engine generates them: the Jobs must not carry them.
      const credentials = render(db, { generatePassword: () => MARKER }).credentials;
      assert.ok(JSON.stringify(credentials).includes(Buffer.from(MARKER).toString('base64')));
      const method = { postgres: 'dump', redis: 'rdb', etcd: 'snapshot' }[engine];
      const backup = completed(db.spec, method);
      const jobs = [
        backupJob(db, backupOf(db), SETTINGS),
        archiveDeleteJob(backup, SETTINGS),
        ...restoreJobs(restoreOf(), backup, db, SETTINGS, { members: 3, role: 'orders' }),
      ];
      for (const job of jobs) {
        const text = JSON.stringify(job);
        assert.ok(!text.includes(MARKER) && !text.includes(Buffer.from(MARKER).toString('base64')));
        const container = containerOf(job);
        for (const env of container.env ?? []) {
          assert.equal(env.value, undefined, `${env.name} is inlined`);
          assert.ok(env.valueFrom.secretKeyRef, `${env.name} is not from a Secret`);
        }
        for (const from of container.envFrom ?? []) assert.deepEqual(Object.keys(from), ['secretRef']);
        assert.ok(!(container.args as string[]).some((a) => /password|secret_access/i.test(a)));
      }
    });
  }
});
