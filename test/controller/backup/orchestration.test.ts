// Backups and restores on the real control plane: kube-apiserver with Strongroom behind its aggregator (its
// controllers run as the leader), kube-controller-manager's Job and garbage collector controllers, and kwok, which
// runs no containers. The test plays the kubelet of the agent pods (test/cluster/agentpods.ts): it ends each one
// with the exit code and termination message an agent would leave, and the real Job controller takes it from there.
// The agent's own work against real databases is tested in test/agent/ and test/e2e/backup.test.ts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { Backup } from '../../../src/api/backup.ts';
import type { Database } from '../../../src/api/database.ts';
import type { KubeList, KubeObject } from '../../../src/api/meta.ts';
import type { Restore } from '../../../src/api/restore.ts';
import { findCondition } from '../../../src/controller/conditions.ts';
import { KubeConfigClient, isStatusError } from '../../../src/controller/runtime/client.ts';
import { resourcePath, resourceTypeOf, resourceTypes, type ResourceType } from '../../../src/controller/runtime/kinds.ts';
import { agentPodOf, finishAgentPod } from '../../cluster/agentpods.ts';
import { kubectl } from '../../cluster/kubectl.ts';
import { startStrongroomCluster, type StrongroomCluster } from '../../cluster/strongroom.ts';
import { provisionPersistentVolumes } from '../../cluster/volumes.ts';

const NS = 'vaults';
const GV = '/apis/strongroom.dev/v1alpha1';
const DATABASES = resourceTypeOf('strongroom.dev/v1alpha1', 'Database');
const BACKUPS = resourceTypeOf('strongroom.dev/v1alpha1', 'Backup');
const RESTORES = resourceTypeOf('strongroom.dev/v1alpha1', 'Restore');

let cluster: StrongroomCluster;
let client: KubeConfigClient;

const get = async <T extends KubeObject = KubeObject>(type: ResourceType, name: string): Promise<T | undefined> => {
  try {
    return await client.request<T>('GET', resourcePath(type, NS, name));
  } catch (err) {
    if (isStatusError(err, 404)) return undefined;
    throw err;
  }
};
const list = async <T extends KubeObject = KubeObject>(type: ResourceType, labelSelector?: string): Promise<T[]> =>
  (await client.request<KubeList<T>>('GET', resourcePath(type, NS), { query: { labelSelector } })).items;

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const apply = (manifest: object) => kubectl(cluster.kubeconfig, ['apply', '-n', NS, '-f', '-'], JSON.stringify(manifest));
const createDatabase = (name: string, spec: Record<string, unknown>) => apply({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name }, spec });
const ready = (name: string) =>
  until(`Database ${name} is Ready`, async () => {
    const db = await get<Database>(DATABASES, name);
    return db?.status?.phase === 'Ready' && db.status.observedGeneration === db.metadata.generation && db;
  });
const post = async <T,>(path: string, body: unknown, query = ''): Promise<T> =>
  JSON.parse(await kubectl(cluster.kubeconfig, ['create', '--raw', `${GV}/namespaces/${NS}/${path}${query}`, '-f', '-'], JSON.stringify(body))) as T;
const backupPhase = (name: string, phase: string, timeoutMs?: number) =>
  until(`Backup ${name} is ${phase}`, async () => {
    const backup = await get<Backup>(BACKUPS, name);
    return backup?.status?.phase === phase && backup;
  }, timeoutMs);

/** The agent's last line for an archive it completed, as it writes it to the termination message. */
const archiveLine = (name: string, sizeBytes: number, engine = 'postgres') =>
  JSON.stringify({
    sizeBytes,
    sha256: createHash('sha256').update(name).digest('hex'),
    location: `pvc://x-backups/${NS}/x/${name}`,
    engine,
    engineVersion: engine === 'postgres' ? '16.4' : '7.2.5',
    method: engine === 'postgres' ? 'dump' : 'rdb',
  });

/** Waits for the agent pod of `job` and ends it as a successful agent would. */
async function agentSucceeds(job: string, message = '{"deleted":"x"}'): Promise<void> {
  await finishAgentPod(cluster.kubeconfig, await agentPodOf(cluster.kubeconfig, NS, job), { exitCode: 0, message });
}

before(async () => {
  cluster = await startStrongroomCluster({ nodes: 3 });
  await provisionPersistentVolumes(cluster.kubeconfig, { count: 30 });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  client = new KubeConfigClient(kc);
  await kubectl(cluster.kubeconfig, ['create', 'namespace', NS]);
  await createDatabase('ledger', { engine: 'postgres', version: '16', deletionPolicy: 'Delete', backup: { backoffLimit: 0, retention: { keepLast: 2 } } });
  await createDatabase('cache', { engine: 'redis', version: '7.2', replicas: 2, deletionPolicy: 'Delete' });
  await Promise.all([ready('ledger'), ready('cache')]);
});

after(() => cluster?.stop());

describe('backups on a real control plane', () => {
  it('runs a backup posted to databases/backup as an agent Job and records the archive', async () => {
    const backup = await post<Backup>('databases/ledger/backup', {});
    assert.equal(backup.spec.trigger, 'Manual');
    const pending = await until('the Backup has its Job', async () => {
      const b = await get<Backup>(BACKUPS, backup.metadata.name!);
      return b?.status?.jobName ? b : undefined;
    });
    assert.equal(pending.status?.phase, 'Pending');
    assert.equal(pending.status?.databaseSpec?.engine, 'postgres', 'the spec the archive is made from is recorded');

    const job = (await get(resourceTypes.Job, pending.status!.jobName!))!;
    const pod = job.spec.template.spec;
    assert.deepEqual(pod.containers[0].command, ['strongroom', 'agent', 'backup']);
    const args: string[] = pod.containers[0].args;
    for (const [flag, value] of [['--engine', 'postgres'], ['--backup', backup.metadata.name], ['--report-to', 'in-cluster'], ['--repository', 'fs:/var/lib/strongroom/repository']]) {
      assert.equal(args[args.indexOf(flag!) + 1], value, `${flag} ${value}`);
    }
    assert.equal(pod.serviceAccountName, 'strongroom-backup-agent');
    assert.equal(job.spec.backoffLimit, 0, 'spec.backup.backoffLimit');
    assert.equal(job.metadata.ownerReferences?.[0]?.kind, 'Backup');
    assert.equal(job.spec.template.metadata.labels['strongroom.dev/role'], 'backup-agent');
    const password = pod.containers[0].env.find((e: { name: string }) => e.name === 'STRONGROOM_DB_PASSWORD');
    assert.deepEqual(password.valueFrom.secretKeyRef, { name: 'ledger-credentials', key: 'superuser-password' });
    assert.ok(await get(resourceTypes.ServiceAccount, 'strongroom-backup-agent'));
    assert.ok(await get(resourceTypes.RoleBinding, 'strongroom-backup-agent'));

    await agentSucceeds(job.metadata.name!, archiveLine(backup.metadata.name!, 4242));
    const completed = await backupPhase(backup.metadata.name!, 'Completed');
    assert.equal(completed.status?.sizeBytes, 4242);
    assert.match(completed.status?.sha256 ?? '', /^[a-f0-9]{64}$/);
    await until('the finished Job is deleted', async () => (await get(resourceTypes.Job, job.metadata.name!)) === undefined);
    const db = await until('the Database shows its last backup', async () => {
      const d = await get<Database>(DATABASES, 'ledger');
      return d?.status?.lastBackup?.name === backup.metadata.name && d;
    });
    assert.equal(findCondition(db.status?.conditions, 'BackupHealthy')?.status, 'True');
  });

  it('fails a backup whose Job fails, with the agent\'s reason, and says so on the Database', async () => {
    const backup = await post<Backup>('databases/ledger/backup', {});
    const jobName = (await until('the Job exists', async () => (await get<Backup>(BACKUPS, backup.metadata.name!))?.status?.jobName))!;
    await finishAgentPod(cluster.kubeconfig, await agentPodOf(cluster.kubeconfig, NS, jobName), { exitCode: 1, message: '{"error":"connection to ledger refused"}' });
    const failed = await backupPhase(backup.metadata.name!, 'Failed');
    assert.match(failed.status?.failureReason ?? '', /connection to ledger refused/);
    assert.equal(failed.status?.sha256, undefined, 'nothing that looks usable');
    assert.ok(await get(resourceTypes.Job, jobName), 'a failed Job stays for its logs');
    await until('BackupHealthy turns False', async () => findCondition((await get<Database>(DATABASES, 'ledger'))?.status?.conditions, 'BackupHealthy')?.status === 'False');
  });

  it('does not claim Completed for a Job that succeeded without a complete archive', async () => {
    const backup = await post<Backup>('databases/ledger/backup', {});
    const jobName = (await until('the Job exists', async () => (await get<Backup>(BACKUPS, backup.metadata.name!))?.status?.jobName))!;
    await agentSucceeds(jobName, '{"sizeBytes":1}');
    const failed = await backupPhase(backup.metadata.name!, 'Failed');
    assert.match(failed.status?.failureReason ?? '', /no complete archive/);
  });

  it('keeps the newest two completed backups (keepLast 2), deleting the archives of the others, and never a held one', async () => {
    const names: string[] = [];
    for (const hold of [true, false, false]) {
      const backup = await post<Backup>('databases/ledger/backup', { spec: { hold } });
      const jobName = (await until('the Job exists', async () => (await get<Backup>(BACKUPS, backup.metadata.name!))?.status?.jobName))!;
      await agentSucceeds(jobName, archiveLine(backup.metadata.name!, 100));
      await backupPhase(backup.metadata.name!, 'Completed');
      names.push(backup.metadata.name!);
    }
    const completed = (await list<Backup>(BACKUPS, 'strongroom.dev/database=ledger')).filter((b) => b.status?.phase === 'Completed');
    // The first test's backup is the oldest unheld Completed one: retention deletes it, and its archive with it.
    const expired = completed.filter((b) => !names.includes(b.metadata.name!)).map((b) => b.metadata.name!);
    assert.equal(expired.length, 1);
    const deletion = await until('the expired Backup is being deleted', async () => {
      const b = await get<Backup>(BACKUPS, expired[0]!);
      return b?.metadata.deletionTimestamp ? b : undefined;
    });
    assert.ok(deletion.metadata.finalizers?.includes('strongroom.dev/backup'), 'held back until its archive is deleted');
    const deleteJob = await until('the archive deletion Job exists', async () =>
      (await list(resourceTypes.Job, `strongroom.dev/database=ledger,app.kubernetes.io/component=archive-delete`))[0]);
    assert.deepEqual(deleteJob.spec.template.spec.containers[0].command, ['strongroom', 'agent', 'delete']);
    await agentSucceeds(deleteJob.metadata.name!);
    await until('the expired Backup is gone', async () => (await get(BACKUPS, expired[0]!)) === undefined);
    const left = (await list<Backup>(BACKUPS, 'strongroom.dev/database=ledger')).filter((b) => b.status?.phase === 'Completed').map((b) => b.metadata.name);
    assert.deepEqual(left.sort(), [...names].sort(), 'the held one and the newest two stay');
  });

  it('takes scheduled backups and shows the next time', async () => {
    await createDatabase('clock', { engine: 'redis', version: '7.2', deletionPolicy: 'Delete', backup: { schedule: '* * * * *' } });
    const db = await until('nextBackupTime is set', async () => {
      const d = await get<Database>(DATABASES, 'clock');
      return d?.status?.nextBackupTime ? d : undefined;
    });
    assert.ok(Date.parse(db.status!.nextBackupTime!) > Date.now() - 1000);
    const scheduled = await until(
      'the schedule creates a Backup',
      async () => (await list<Backup>(BACKUPS, 'strongroom.dev/database=clock')).find((b) => b.spec.trigger === 'Schedule'),
      90_000,
    );
    assert.match(scheduled.metadata.name!, /^clock-\d{12}$/);
    await kubectl(cluster.kubeconfig, ['patch', 'database', 'clock', '-n', NS, '--type=merge', '-p', '{"spec":{"backup":{"schedule":null}}}']);
  });
});

describe('restores on a real control plane', () => {
  /** A Completed backup of `db`, made through its Job. */
  async function completedBackup(db: string, engine = 'postgres'): Promise<Backup> {
    const backup = await post<Backup>(`databases/${db}/backup`, {});
    const jobName = (await until('the Job exists', async () => (await get<Backup>(BACKUPS, backup.metadata.name!))?.status?.jobName))!;
    await agentSucceeds(jobName, archiveLine(backup.metadata.name!, 2048, engine));
    return backupPhase(backup.metadata.name!, 'Completed');
  }

  const restoreJobs = (restore: string) => list(resourceTypes.Job, `strongroom.dev/restore=${restore}`);

  it('answers a dry run with the plan and creates nothing', async () => {
    const backup = await completedBackup('ledger');
    const plan = await post<Restore>('databases/ledger/restore', { spec: { backupName: backup.metadata.name } }, '?dryRun=All');
    assert.deepEqual(plan.status?.steps?.map((s) => s.name), ['SafetyBackup', 'LoadData', 'WaitReady']);
    assert.equal(plan.status?.plan?.backup.sha256, backup.status?.sha256);
    assert.deepEqual(await list(RESTORES), []);
  });

  it('restores a postgres dump in place: safety backup, load, ready — in that order', async () => {
    const backup = await completedBackup('ledger');
    const restore = await post<Restore>('databases/ledger/restore', { spec: { backupName: backup.metadata.name } });
    const safetyName = await until('the safety backup is taken', async () => (await get<Restore>(RESTORES, restore.metadata.name!))?.status?.safetyBackupName);
    const safety = await until('the safety Backup has its Job', async () => {
      const b = await get<Backup>(BACKUPS, safetyName);
      return b?.status?.jobName ? b : undefined;
    });
    assert.equal(safety.spec.trigger, 'PreRestore');
    assert.deepEqual(await restoreJobs(restore.metadata.name!), [], 'nothing is loaded before the safety backup completes');
    await agentSucceeds(safety.status!.jobName!, archiveLine(safetyName, 10));

    const [load] = await until('the load Job exists', async () => {
      const jobs = await restoreJobs(restore.metadata.name!);
      return jobs.length > 0 && jobs;
    });
    const args: string[] = load!.spec.template.spec.containers[0].args;
    assert.deepEqual(load!.spec.template.spec.containers[0].command, ['strongroom', 'agent', 'restore']);
    assert.equal(args[args.indexOf('--sha256') + 1], backup.status?.sha256, 'the agent checks the recorded digest');
    await agentSucceeds(load!.metadata.name!, JSON.stringify({ restored: true }));

    const done = await until('the restore completes', async () => {
      const r = await get<Restore>(RESTORES, restore.metadata.name!);
      return r?.status?.phase === 'Completed' && r;
    });
    const steps = done.status!.steps!;
    assert.deepEqual(steps.map((s) => [s.name, s.phase]), [['SafetyBackup', 'Completed'], ['LoadData', 'Completed'], ['WaitReady', 'Completed']]);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i]!.startTime! >= steps[i - 1]!.completionTime!, `${steps[i]!.name} starts after ${steps[i - 1]!.name} ends`);
  });

  it('restores redis volumes in place: stops the members, loads each volume, starts them', async () => {
    const backup = await completedBackup('cache', 'redis');
    const restore = await post<Restore>('databases/cache/restore', { spec: { backupName: backup.metadata.name, target: { inPlace: { safetyBackup: false } } } });
    await until('the members are stopped', async () => {
      const sts = await get(resourceTypes.StatefulSet, 'cache');
      const members = await list(resourceTypes.Pod, 'strongroom.dev/database=cache,app.kubernetes.io/component=database');
      return sts?.spec.replicas === 0 && members.length === 0;
    });
    assert.equal((await get<Database>(DATABASES, 'cache'))?.status?.phase, 'Restoring');
    const jobs = await until('the load Job exists', async () => {
      const found = await restoreJobs(restore.metadata.name!);
      return found.length > 0 && found;
    });
    const claim = jobs[0]!.spec.template.spec.volumes.find((v: { persistentVolumeClaim?: { claimName: string } }) => v.persistentVolumeClaim?.claimName.startsWith('data-'));
    assert.equal(claim.persistentVolumeClaim.claimName, 'data-cache-0', 'loads the primary\'s volume');
    for (const job of jobs) await agentSucceeds(job.metadata.name!, JSON.stringify({ restored: true }));
    const done = await until('the restore completes', async () => {
      const r = await get<Restore>(RESTORES, restore.metadata.name!);
      return r?.status?.phase === 'Completed' && r;
    }, 90_000);
    assert.deepEqual(done.status!.steps!.map((s) => s.name), ['StopDatabase', 'LoadData', 'StartDatabase', 'WaitReady']);
    assert.equal((await get(resourceTypes.StatefulSet, 'cache'))?.spec.replicas, 2, 'started again');
  });

  it('restores into a new Database, leaving the source alone', async () => {
    const backup = await completedBackup('ledger');
    const restore = await post<Restore>('databases/ledger/restore', { spec: { backupName: backup.metadata.name, target: { newDatabase: { name: 'ledger-copy' } } } });
    const copy = await ready('ledger-copy');
    assert.equal(copy.spec.engine, 'postgres');
    assert.equal(copy.metadata.annotations?.['strongroom.dev/restored-from'], backup.metadata.name);
    const [load] = await until('the load Job exists', async () => {
      const jobs = await restoreJobs(restore.metadata.name!);
      return jobs.length > 0 && jobs;
    });
    const args: string[] = load!.spec.template.spec.containers[0].args;
    assert.equal(args[args.indexOf('--role') + 1], 'ledger_copy', 'objects are owned by the new application role');
    await agentSucceeds(load!.metadata.name!, JSON.stringify({ restored: true }));
    await until('the restore completes', async () => (await get<Restore>(RESTORES, restore.metadata.name!))?.status?.phase === 'Completed');
  });

  it('lets a user who may only create databases/restore restore', async () => {
    const backup = await completedBackup('ledger');
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'restorer', namespace: NS }, rules: [{ apiGroups: ['strongroom.dev'], resources: ['databases/restore'], verbs: ['create'] }] };
    const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'restorer', namespace: NS }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'restorer' }, subjects: [{ kind: 'User', name: 'rita' }] };
    await kubectl(cluster.kubeconfig, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [role, binding] }));
    const as = ['--as', 'rita'];
    await assert.rejects(kubectl(cluster.kubeconfig, ['get', 'restores', '-n', NS, ...as]), /forbidden/, 'rita may not even list restores');
    const body = JSON.stringify({ spec: { backupName: backup.metadata.name, target: { newDatabase: { name: 'ledger-rita' } } } });
    const created = JSON.parse(await kubectl(cluster.kubeconfig, ['create', '--raw', `${GV}/namespaces/${NS}/databases/ledger/restore`, '-f', '-', ...as], body));
    assert.equal(created.kind, 'Restore');
  });
});

describe('deletionPolicy Snapshot on a real control plane', () => {
  it('takes a final backup before deleting, and waits for it', async () => {
    await createDatabase('temp', { engine: 'redis', version: '7.2' });
    const db = await ready('temp');
    await kubectl(cluster.kubeconfig, ['delete', 'database', 'temp', '-n', NS, '--wait=false']);
    const finalName = `temp-final-${db.metadata.uid!.slice(0, 8)}`;
    const final = await until('the final Backup has its Job', async () => {
      const b = await get<Backup>(BACKUPS, finalName);
      return b?.status?.jobName ? b : undefined;
    });
    assert.equal(final.spec.trigger, 'PreDelete');
    assert.ok(await get(resourceTypes.StatefulSet, 'temp'), 'the members run until the final backup completes');
    assert.ok(await get(DATABASES, 'temp'));
    await agentSucceeds(final.status!.jobName!, archiveLine(finalName, 77, 'redis'));
    await until('the Database is gone', async () => (await get(DATABASES, 'temp')) === undefined, 90_000);
    assert.equal((await get<Backup>(BACKUPS, finalName))?.status?.phase, 'Completed', 'the final backup outlives its database');
  });
});
