// One backup followed all the way, and restored: `kubectl create --raw …/backup` → the Backup's Job → the Job's own
// command, run on the host by test/cluster/agentpods.ts (standing in for the kubelet only, since kwok runs no
// containers) against a real PostgreSQL on loopback that stands in for the Database's primary → the archive in the
// repository directory (the claim's stand-in) → the agent's report through the aggregator with the Job's service
// account token → Backup Completed with size and digest → an in-place restore with its safety backup → data identical.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Backup } from '../../src/api/backup.ts';
import type { Restore } from '../../src/api/restore.ts';
import { POSTGRES_PASSWORD, startPostgres, type Postgres } from '../agent/servers.ts';
import { agentPodOf, runAgentPod, type HostMapping } from '../cluster/agentpods.ts';
import { kubectl } from '../cluster/kubectl.ts';
import { startStrongroomCluster, type StrongroomCluster } from '../cluster/strongroom.ts';
import { provisionPersistentVolumes } from '../cluster/volumes.ts';

const NS = 'shop';
const GV = '/apis/strongroom.dev/v1alpha1';
const work = mkdtempSync(join(tmpdir(), 'strongroom-e2e-backup-'));
const repository = join(work, 'repository');
let cluster: StrongroomCluster;
let pg: Postgres;
let mapping: HostMapping;

const k = (args: string[], input?: string) => kubectl(cluster.kubeconfig, args, input);
const getJSON = async <T,>(args: string[]): Promise<T> => JSON.parse(await k([...args, '-o', 'json'])) as T;

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const SCHEMA = `
CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2), placed timestamptz);
INSERT INTO orders SELECT g, 'customer ' || (g % 97), g * 1.25, '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 5000) g;
CREATE TABLE lines (id serial PRIMARY KEY, order_id bigint REFERENCES orders, sku text);
INSERT INTO lines (order_id, sku) SELECT g, 'sku-' || md5(g::text) FROM generate_series(1, 5000) g;`;

const fingerprint = () =>
  pg.psql(
    `SELECT (SELECT count(*) FROM orders) || ' ' || (SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o) || ' ' ||
            (SELECT count(*) FROM lines) || ' ' || (SELECT md5(string_agg(l::text, ',' ORDER BY id)) FROM lines l)`,
    'orders',
  );

/** Runs the agent pod of `jobName` on the host and checks it exited 0. */
async function runJob(jobName: string): Promise<unknown> {
  const pod = await agentPodOf(cluster.kubeconfig, NS, jobName);
  // The kubelet mounts a token of the pod's service account, which the controller created with the first Job.
  const token = (await k(['create', 'token', pod.spec.serviceAccountName, '-n', NS])).trim();
  writeFileSync(join(mapping.paths['/var/run/secrets/kubernetes.io/serviceaccount']!, 'token'), token);
  const run = await runAgentPod(cluster.kubeconfig, pod, mapping);
  assert.equal(run.exitCode, 0, `agent of ${jobName} failed: ${run.stderr}`);
  return run.lastLine;
}

const backupWithJob = (name: string) =>
  until(`Backup ${name} has its Job`, async () => {
    const backup = await getJSON<Backup>(['get', 'backup', name, '-n', NS]);
    return backup.status?.jobName ? backup : undefined;
  });

before(async () => {
  cluster = await startStrongroomCluster({ nodes: 3 });
  await provisionPersistentVolumes(cluster.kubeconfig, { count: 10 });
  await k(['create', 'namespace', NS]);
  // The primary's stand-in has its own superuser password: the Database's credentials Secret is made with it first
  // (the controller keeps an existing Secret's passwords), as for a database adopted with its data.
  pg = await startPostgres(join(work, 'pg'));
  await k(['create', 'secret', 'generic', 'orders-credentials', '-n', NS, `--from-literal=superuser-password=${POSTGRES_PASSWORD}`]);
  await k(['apply', '-n', NS, '-f', '-'], JSON.stringify({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: 'orders' }, spec: { engine: 'postgres', version: '15', deletionPolicy: 'Delete' } }));
  await until('orders is Ready', async () => (await getJSON<{ status?: { phase?: string } }>(['get', 'database', 'orders', '-n', NS])).status?.phase === 'Ready', 90_000);

  await pg.psql('CREATE DATABASE orders');
  await pg.psql(SCHEMA, 'orders');

  // What the kubelet would mount: the repository claim, scratch space, and the service account's token and CA.
  const serviceAccount = join(work, 'serviceaccount');
  mkdirSync(serviceAccount, { recursive: true });
  mkdirSync(repository, { recursive: true });
  copyFileSync(cluster.controlPlane.pki.caCert, join(serviceAccount, 'ca.crt'));
  const apiServer = new URL(cluster.controlPlane.apiServerURL);
  mapping = {
    paths: {
      '/var/lib/strongroom/repository': repository,
      '/var/lib/strongroom/scratch': join(work, 'scratch'),
      '/var/run/secrets/kubernetes.io/serviceaccount': serviceAccount,
    },
    services: { 'orders.shop.svc.cluster.local': { host: '127.0.0.1', port: pg.port } },
    env: { KUBERNETES_SERVICE_HOST: apiServer.hostname, KUBERNETES_SERVICE_PORT: apiServer.port },
  };
  mkdirSync(join(work, 'scratch'), { recursive: true });
});

after(async () => {
  await cluster?.stop();
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('a backup followed end to end', () => {
  let backupName: string;
  let before: string;

  it('backs up through kubectl create --raw, a Job, and the real agent, and records size and digest', async () => {
    const posted = JSON.parse(await k(['create', '--raw', `${GV}/namespaces/${NS}/databases/orders/backup`, '-f', '-'], '{}')) as Backup;
    backupName = posted.metadata.name!;
    const backup = await backupWithJob(backupName);
    before = await fingerprint();
    const result = (await runJob(backup.status!.jobName!)) as { sha256: string; sizeBytes: number };

    const completed = await until('the Backup is Completed', async () => {
      const b = await getJSON<Backup>(['get', 'backup', backupName, '-n', NS]);
      return b.status?.phase === 'Completed' ? b : undefined;
    });
    const dir = join(repository, NS, 'orders', backupName);
    const archive = readdirSync(dir).find((f) => f.startsWith('archive.'))!;
    const bytes = readFileSync(join(dir, archive));
    assert.equal(completed.status?.sizeBytes, bytes.length);
    assert.equal(completed.status?.sha256, createHash('sha256').update(bytes).digest('hex'), 'the recorded digest is the stored archive\'s');
    assert.equal(completed.status?.sha256, result.sha256);
    assert.equal(completed.status?.engine, 'postgres');
    assert.match(completed.status?.engineVersion ?? '', /^15\./);
    const table = await k(['get', 'backup', backupName, '-n', NS]);
    assert.match(table, /Completed/);
  });

  it('restores it in place, after a safety backup, and the data is identical', async () => {
    await pg.psql('DELETE FROM lines WHERE id % 3 = 0; DELETE FROM orders WHERE id > 4000 AND id NOT IN (SELECT order_id FROM lines)', 'orders');
    assert.notEqual(await fingerprint(), before);
    const restore = JSON.parse(await k(['create', '--raw', `${GV}/namespaces/${NS}/databases/orders/restore`, '-f', '-'], JSON.stringify({ spec: { backupName } }))) as Restore;
    const safetyName = await until('the safety backup starts', async () => (await getJSON<Restore>(['get', 'restore', restore.metadata.name!, '-n', NS])).status?.safetyBackupName);
    await runJob((await backupWithJob(safetyName)).status!.jobName!);
    const load = await until('the load Job exists', async () => {
      const jobs = await getJSON<{ items: Array<{ metadata: { name: string } }> }>(['get', 'jobs', '-n', NS, '-l', `strongroom.dev/restore=${restore.metadata.name}`]);
      return jobs.items[0];
    });
    await runJob(load.metadata.name);
    const done = await until('the restore completes', async () => {
      const r = await getJSON<Restore>(['get', 'restore', restore.metadata.name!, '-n', NS]);
      return r.status?.phase === 'Completed' || r.status?.phase === 'Failed' ? r : undefined;
    });
    assert.equal(done.status?.phase, 'Completed', done.status?.failureReason);
    assert.equal(await fingerprint(), before, 'row counts and checksums as backed up');
  });
});
