// Two Strongroom processes, one Lease: only the holder reconciles, and when it is killed (SIGKILL, so it cannot
// release the lease) the other takes over within the lease duration.
//
// Each replica keeps its own SQLite store today (shared storage is the etcd backend's job), so the second replica
// starts on a copy of the first one's store, made once the Database exists: both then hold the same Database, with
// the same uid the children's owner references name. When the first dies, the APIService is pointed at the second,
// as a Service in front of both replicas would route around the dead one.
import assert from 'node:assert/strict';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import type { Database } from '../../src/api/database.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { findCondition } from '../../src/controller/conditions.ts';
import { DEFAULT_LEASE_NAMESPACE, LEASE_NAME } from '../../src/controller/manager.ts';
import { isStatusError, KubeConfigClient } from '../../src/controller/runtime/client.ts';
import { resourcePath, resourceTypeOf, resourceTypes } from '../../src/controller/runtime/kinds.ts';
import type { Lease } from '../../src/controller/runtime/leaderelection.ts';
import { httpsRequest } from '../cluster/client.ts';
import { freePort } from '../cluster/harness.ts';
import { kubectl } from '../cluster/kubectl.ts';
import { startProcess, waitUntil, type ComponentProcess } from '../cluster/process.ts';
import { startStrongroomCluster, type StrongroomCluster } from '../cluster/strongroom.ts';
import { provisionPersistentVolumes } from '../cluster/volumes.ts';

const NS = 'ha';
const DATABASES = resourceTypeOf('strongroom.dev/v1alpha1', 'Database');
const LEASE_PATH = resourcePath(resourceTypes.Lease, DEFAULT_LEASE_NAMESPACE, LEASE_NAME);
/** The elector's defaults (src/controller/runtime/leaderelection.ts). */
const LEASE_DURATION_MS = 15_000;
const RETRY_PERIOD_MS = 2_000;
const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

let cluster: StrongroomCluster;
let client: KubeConfigClient;
let second: ComponentProcess | undefined;

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const lease = () => client.request<Lease>('GET', LEASE_PATH);
const database = () => client.request<Database>('GET', resourcePath(DATABASES, NS, 'orders'));
const service = () => client.request<KubeObject>('GET', resourcePath(resourceTypes.Service, NS, 'orders'));

/** When a Strongroom log (JSON lines) says `msg`. */
async function logged(logPath: string, msg: string): Promise<number[]> {
  return (await readFile(logPath, 'utf8'))
    .split('\n')
    .filter((line) => line.includes(`"msg":"${msg}"`))
    .map((line) => (JSON.parse(line) as { time: number }).time);
}

before(async () => {
  cluster = await startStrongroomCluster({ nodes: 1 });
  await provisionPersistentVolumes(cluster.kubeconfig, { count: 4 });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  client = new KubeConfigClient(kc);
  await kubectl(cluster.kubeconfig, ['create', 'namespace', NS]);
});

after(async () => {
  await second?.stop();
  await cluster?.stop();
});

describe('leader election between two Strongroom processes', () => {
  it('only the leader reconciles; SIGKILL of the leader hands over within the lease duration', async () => {
    await kubectl(cluster.kubeconfig, ['apply', '-n', NS, '-f', '-'], JSON.stringify({
      apiVersion: 'strongroom.dev/v1alpha1',
      kind: 'Database',
      metadata: { name: 'orders' },
      spec: { engine: 'postgres', deletionPolicy: 'Delete' },
    }));
    await until('the first replica made the Database Ready', async () => findCondition((await database()).status?.conditions, 'Ready')?.status === 'True');
    const first = await lease();
    const firstHolder = first.spec?.holderIdentity;
    assert.ok(firstHolder);

    // The second replica: the first one's store as it is now, its serving certificate, the same ServiceAccount.
    const dir = join(cluster.controlPlane.dir, 'strongroom-2');
    await mkdir(dir, { recursive: true });
    await cp(join(cluster.strongroomDataDir, 'pki'), join(dir, 'pki'), { recursive: true });
    const source = new DatabaseSync(join(cluster.strongroomDataDir, 'strongroom.db'), { readOnly: true });
    source.exec(`VACUUM INTO '${join(dir, 'strongroom.db')}'`);
    source.close();
    const port = await freePort();
    const logPath = join(cluster.controlPlane.dir, 'logs', 'strongroom-2.log');
    const kubeconfig = await cluster.controlPlane.writeKubeconfig('system:serviceaccount:strongroom-system:strongroom', [
      'system:serviceaccounts',
      'system:serviceaccounts:strongroom-system',
    ]);
    second = startProcess('strongroom-2', process.execPath, [
      cli, 'serve', '--kubeconfig', kubeconfig, '--bind-address', '127.0.0.1', '--secure-port', String(port), '--data-dir', dir, '--log-level', 'debug',
    ], { logPath });
    const caPem = await readFile(join(dir, 'pki', 'serving-ca.crt'), 'utf8');
    await waitUntil('the second replica serves', async () => (await httpsRequest({ caPem }, 'GET', `https://127.0.0.1:${port}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      processes: [second],
    });
    // Two lease periods as a follower: it contends, and must neither win nor reconcile.
    await new Promise((resolve) => setTimeout(resolve, 2 * RETRY_PERIOD_MS * 2.2));
    assert.equal((await lease()).spec?.holderIdentity, firstHolder, 'the first replica still leads');
    assert.deepEqual(await logged(logPath, 'reconciling'), [], 'the follower reconciled nothing');

    const killedAt = Date.now();
    await cluster.strongroom.kill('SIGKILL');
    await kubectl(cluster.kubeconfig, ['patch', 'apiservice', 'v1alpha1.strongroom.dev', '--type', 'merge', '-p', JSON.stringify({ spec: { service: { port } } })]);

    const taken = await until('the second replica holds the lease', async () => {
      const now = await lease();
      return now.spec?.holderIdentity !== firstHolder && now;
    }, 3 * LEASE_DURATION_MS);
    assert.equal(taken.spec?.leaseTransitions, (first.spec?.leaseTransitions ?? 0) + 1, 'one transition: the takeover');
    const [leading, ...again] = await until('the second replica logs its term', async () => {
      const times = await logged(logPath, 'became leader');
      return times.length > 0 && times;
    });
    assert.deepEqual(again, [], 'one term');
    const handover = leading! - killedAt;
    console.log(`[manager] the second replica led ${(handover / 1000).toFixed(1)} s after the first was killed`);
    // The follower judges expiry from when it saw the last renewal, which is up to one of its jittered retry periods
    // (2.2 × 2 s) after the renewal, itself just before the kill; once the lease duration has passed since, its next
    // attempt, again up to a jittered retry period later, takes the lease. Plus 2 s for two loaded cores.
    const bound = LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS * 2.2 + 2000;
    assert.ok(handover <= bound, `took over after ${handover} ms, more than ${bound}`);

    // The new leader reconciles: a deleted child comes back, owned by the same Database.
    await kubectl(cluster.kubeconfig, ['delete', 'service', 'orders', '-n', NS]);
    const back = await until('the new leader put the Service back', async () => {
      try {
        return await service();
      } catch (err) {
        if (isStatusError(err, 404)) return undefined;
        throw err;
      }
    });
    assert.equal(back.metadata.ownerReferences?.[0]?.uid, (await database()).metadata.uid);
    const starts = await logged(logPath, 'reconciling');
    assert.ok(starts.length > 0, 'the new leader reconciled');
    assert.ok(Math.min(...starts) >= leading!, 'no reconcile before its term began, which began after the kill');
  });
});
