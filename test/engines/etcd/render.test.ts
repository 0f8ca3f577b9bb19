import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Member } from '../../../src/engines/engine.ts';
import { configData, container, database, envValue, find, podSpec, render } from '../fixtures.ts';
import { runScript } from '../scripts.ts';

const voter = (ordinal: number, healthy = true): Member => ({ name: `orders-${ordinal}`, learner: false, healthy });
const learner = (ordinal: number, healthy = true): Member => ({ name: `orders-${ordinal}`, learner: true, healthy });
const peer = (ordinal: number) => `http://orders-${ordinal}.orders-headless.shop.svc.cluster.local:2380`;

describe('etcd bootstrap', () => {
  it('starts every initial member at once with a new cluster of all of them', () => {
    const state = render(database('etcd', { replicas: 3 }));
    const sts = find(state, 'StatefulSet', 'orders');
    assert.equal(sts.spec.replicas, 3);
    assert.equal(sts.spec.podManagementPolicy, 'Parallel');
    assert.deepEqual(configData(state, 'orders-cluster'), {
      ETCD_INITIAL_CLUSTER: [0, 1, 2].map((i) => `orders-${i}=${peer(i)}`).join(','),
      ETCD_INITIAL_CLUSTER_STATE: 'new',
      ETCD_INITIAL_CLUSTER_TOKEN: '6f1c2a9e-0000-4000-8000-000000000001',
    });
  });

  it('names each member after its pod and advertises its stable DNS name', () => {
    const etcd = container(render(database('etcd')), 'etcd');
    assert.deepEqual(etcd.args, [
      '--name=$(POD_NAME)',
      '--data-dir=/var/lib/etcd/data',
      '--listen-client-urls=http://0.0.0.0:2379',
      '--listen-peer-urls=http://0.0.0.0:2380',
      '--listen-metrics-urls=http://0.0.0.0:2381',
      '--advertise-client-urls=http://$(POD_NAME).orders-headless.shop.svc.cluster.local:2379',
      '--initial-advertise-peer-urls=http://$(POD_NAME).orders-headless.shop.svc.cluster.local:2380',
    ]);
    assert.equal(etcd.env[0].name, 'POD_NAME', 'defined before the args that use it');
    assert.deepEqual(etcd.envFrom, [{ configMapRef: { name: 'orders-config' } }, { configMapRef: { name: 'orders-cluster' } }]);
    assert.deepEqual(
      etcd.ports.map((p: any) => [p.name, p.containerPort]),
      [['client', 2379], ['peer', 2380], ['metrics', 2381]],
    );
  });

  it('serves clients from every member and peers through the headless Service', () => {
    const state = render(database('etcd', { replicas: 3 }));
    const client = find(state, 'Service', 'orders');
    assert.equal(client.spec.selector['statefulset.kubernetes.io/pod-name'], undefined);
    assert.deepEqual(client.spec.ports.map((p: any) => p.port), [2379]);
    const headless = find(state, 'Service', 'orders-headless');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.deepEqual(headless.spec.ports.map((p: any) => p.port), [2379, 2380]);
    assert.deepEqual(find(state, 'NetworkPolicy', 'orders').spec.ingress[0].ports.map((p: any) => p.port), [2379, 2380]);
  });
});

describe('etcd configuration', () => {
  it('turns parameters into ETCD_ variables over Strongroom defaults', () => {
    const data = configData(render(database('etcd', { parameters: { 'snapshot-count': '5000', 'auto-compaction-retention': '24h' } })), 'orders-config');
    assert.deepEqual(data, {
      ETCD_AUTO_COMPACTION_MODE: 'periodic',
      ETCD_AUTO_COMPACTION_RETENTION: '24h',
      ETCD_QUOTA_BACKEND_BYTES: String(Math.floor(2 ** 30 * 0.8)),
      ETCD_SNAPSHOT_COUNT: '5000',
    });
  });

  it('sizes the backend quota below the volume, at most 8GiB', () => {
    const quota = (size: string) => configData(render(database('etcd', { storage: { size } })), 'orders-config').ETCD_QUOTA_BACKEND_BYTES;
    assert.equal(quota('2Gi'), String(Math.floor(2 * 2 ** 30 * 0.8)));
    assert.equal(quota('100Gi'), String(8 * 2 ** 30));
  });

  it('keeps membership out of the pod template, so a membership change restarts nobody', () => {
    const bootstrap = find(render(database('etcd', { replicas: 3 })), 'StatefulSet', 'orders');
    const grown = find(render(database('etcd', { replicas: 3 }), { members: [voter(0), voter(1), voter(2), learner(3, false)] }), 'StatefulSet', 'orders');
    assert.deepEqual(grown.spec.template, bootstrap.spec.template);
  });
});

describe('etcd probes', () => {
  const table: [string, string, unknown, unknown][] = [
    ['3.6', '3.6.4', { httpGet: { path: '/livez', port: 'metrics', scheme: 'HTTP' } }, { httpGet: { path: '/readyz', port: 'metrics', scheme: 'HTTP' } }],
    ['3.5', '3.5.21', { httpGet: { path: '/livez', port: 'metrics', scheme: 'HTTP' } }, { httpGet: { path: '/readyz', port: 'metrics', scheme: 'HTTP' } }],
    ['3.5.11', '3.5.11', { httpGet: { path: '/livez', port: 'metrics', scheme: 'HTTP' } }, { httpGet: { path: '/readyz', port: 'metrics', scheme: 'HTTP' } }],
    ['3.5.10', '3.5.10', { tcpSocket: { port: 'client' } }, { httpGet: { path: '/health', port: 'metrics', scheme: 'HTTP' } }],
    ['3.4', '3.4.13', { tcpSocket: { port: 'client' } }, { httpGet: { path: '/health', port: 'metrics', scheme: 'HTTP' } }],
  ];
  for (const [version, release, liveness, readiness] of table) {
    it(`etcd ${version} (${release}): liveness never depends on the quorum`, () => {
      const etcd = container(render(database('etcd', { version })), 'etcd');
      const handler = ({ periodSeconds: _p, timeoutSeconds: _t, failureThreshold: _f, ...rest }: any) => rest;
      assert.deepEqual(handler(etcd.livenessProbe), liveness);
      assert.deepEqual(handler(etcd.startupProbe), liveness, 'a learner starts without ever being ready');
      assert.deepEqual(handler(etcd.readinessProbe), readiness);
    });
  }
});

describe('etcd recorded membership', () => {
  it('runs a pod for each recorded member, learners included, and joins new ones to the existing cluster', () => {
    const state = render(database('etcd', { replicas: 5 }), { members: [voter(0), voter(1), voter(2), learner(3, false)] });
    assert.equal(find(state, 'StatefulSet', 'orders').spec.replicas, 4, 'follows the members, not spec.replicas');
    const cluster = configData(state, 'orders-cluster');
    assert.equal(cluster.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.equal(cluster.ETCD_INITIAL_CLUSTER, [0, 1, 2, 3].map((i) => `orders-${i}=${peer(i)}`).join(','));
  });

  it('refuses an empty membership rather than scale the members away', () => {
    assert.throws(() => render(database('etcd'), { members: [] }), /at least one member/);
  });

  const budgets: [string, Member[] | undefined, number, object][] = [
    ['a single member', undefined, 1, { maxUnavailable: 1 }],
    ['3 members', undefined, 3, { minAvailable: 2 }],
    ['5 members', undefined, 5, { minAvailable: 3 }],
    ['2 voters while scaling', [voter(0), voter(1)], 3, { minAvailable: 2 }],
    ['3 voters and a learner', [voter(0), voter(1), voter(2), learner(3)], 5, { minAvailable: 3 }],
  ];
  for (const [name, members, replicas, budget] of budgets) {
    it(`keeps a quorum through disruptions: ${name}`, () => {
      const pdb = find(render(database('etcd', { replicas }), members ? { members } : {}), 'PodDisruptionBudget', 'orders');
      const { selector: _selector, ...rest } = pdb.spec;
      assert.deepEqual(rest, budget);
    });
  }
});

describe('etcd init Job', () => {
  it('enables authentication as a client of the database', () => {
    const job = render(database('etcd')).initJob!;
    assert.equal(job.metadata.name, 'orders-init');
    assert.equal(job.spec.template.metadata.labels['strongroom.dev/client-of'], 'orders');
    assert.equal(podSpec(render(database('etcd'))).securityContext.runAsNonRoot, true);
  });

  // The fake keeps whether root exists, its roles and whether the root role exists in files of $FAKE_DIR.
  const etcdctl = `
s="$FAKE_DIR"
case "$1 $2" in
  "user get") [ -f "$s/user" ] || exit 1; printf 'User: root\\nRoles: %s\\n' "$(cat "$s/user")" ;;
  "user add") [ ! -f "$s/user" ] || exit 1; : > "$s/user" ;;
  "role get") [ -f "$s/role" ] || exit 1 ;;
  "role add") [ ! -f "$s/role" ] || exit 1; : > "$s/role" ;;
  "user grant-role") [ -f "$s/role" ] || exit 1; echo root > "$s/user" ;;
esac`;
  const cases: [string, string, string[]][] = [
    [
      'sets everything up on a new cluster',
      '',
      ['etcdctl user get root', 'etcdctl user add root --interactive=false --new-user-password=secret', 'etcdctl role get root', 'etcdctl role add root', 'etcdctl user grant-role root root', 'etcdctl auth enable'],
    ],
    ['finishes what a failed run started', ': > "$FAKE_DIR/user"', ['etcdctl user get root', 'etcdctl role get root', 'etcdctl role add root', 'etcdctl user grant-role root root', 'etcdctl auth enable']],
    ['only re-enables authentication when done before', 'echo root > "$FAKE_DIR/user"; : > "$FAKE_DIR/role"', ['etcdctl user get root', 'etcdctl auth enable']],
  ];
  for (const [name, setup, calls] of cases) {
    it(name, () => {
      const c = render(database('etcd')).initJob!.spec.template.spec.containers[0];
      const run = runScript('bash', `${setup}\n${c.command[2]}`, { ETCD_ROOT_PASSWORD: 'secret' }, { etcdctl });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.calls, calls);
    });
  }
});
