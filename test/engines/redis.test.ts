import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configData, container, database, envValue, find, podSpec, render } from './fixtures.ts';
import { runScript } from './scripts.ts';

const conf = (state: ReturnType<typeof render>) => configData(state, 'orders-config')['redis.conf'];

describe('redis topology', () => {
  for (const replicas of [1, 3]) {
    it(`${replicas} member(s): one StatefulSet started in order, primary first`, () => {
      const sts = find(render(database('redis', { replicas })), 'StatefulSet', 'orders');
      assert.equal(sts.spec.replicas, replicas);
      assert.equal(sts.spec.podManagementPolicy, 'OrderedReady');
    });
  }

  it('sends writes to ordinal 0 and reads to the members labelled replica', () => {
    const state = render(database('redis', { replicas: 3 }));
    assert.equal(find(state, 'Service', 'orders').spec.selector['statefulset.kubernetes.io/pod-name'], 'orders-0');
    assert.equal(find(state, 'Service', 'orders-ro').spec.selector['strongroom.dev/role'], 'replica');
    assert.deepEqual(find(state, 'Service', 'orders-headless').spec.ports, [{ name: 'redis', port: 6379, protocol: 'TCP', targetPort: 'redis' }]);
  });

  it('points replicas at ordinal 0 through its stable DNS name', () => {
    assert.equal(envValue(container(render(database('redis')), 'redis'), 'PRIMARY_HOST'), 'orders-0.orders-headless.shop.svc.cluster.local');
  });
});

describe('redis start script (the image sh)', () => {
  const script = container(render(database('redis', { replicas: 3 })), 'redis').command[2];
  const env = { PRIMARY_HOST: 'orders-0.orders-headless', REDIS_PASSWORD: 'pw' };
  const table: [string, string][] = [
    ['orders-0', 'redis-server /etc/strongroom/redis.conf --requirepass pw --masterauth pw'],
    ['orders-2', 'redis-server /etc/strongroom/redis.conf --requirepass pw --masterauth pw --replicaof orders-0.orders-headless 6379'],
    ['orders-10', 'redis-server /etc/strongroom/redis.conf --requirepass pw --masterauth pw --replicaof orders-0.orders-headless 6379'],
  ];
  for (const [pod, call] of table) {
    it(`starts ${pod} as ${pod === 'orders-0' ? 'the primary' : 'a replica'}, with AUTH from the Secret`, () => {
      const run = runScript('sh', script, { ...env, POD_NAME: pod }, { 'redis-server': 'exit 0' });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.calls, [call]);
    });
  }

  it('takes the password from the credentials Secret', () => {
    const redis = container(render(database('redis')), 'redis');
    for (const name of ['REDIS_PASSWORD', 'REDISCLI_AUTH']) {
      assert.deepEqual(envValue(redis, name), { secretKeyRef: { name: 'orders-credentials', key: 'password' } });
    }
  });
});

describe('redis configuration', () => {
  it('writes defaults, then parameters in key order, then the managed directives that win', () => {
    const text = conf(render(database('redis', { resources: { limits: { memory: '1Gi' } }, parameters: { save: '900 1 300 10', appendonly: 'yes' } })));
    const lines = text.split('\n').filter((l) => !l.startsWith('#') && l !== '');
    assert.deepEqual(lines, [
      `maxmemory ${Math.floor(2 ** 30 * 0.75)}`,
      'appendonly yes',
      'save 900 1 300 10',
      'port 6379',
      'dir /data',
      'dbfilename dump.rdb',
      'daemonize no',
    ]);
  });

  it('never puts the password in the ConfigMap', () => {
    const state = render(database('redis'));
    assert.doesNotMatch(conf(state), /requirepass|masterauth|generated/);
  });

  const quoting: [string, string][] = [
    ['', '""'],
    ['a"b', '"a\\"b"'],
    ["it's", '"it\'s"'],
    ['yes\nrequirepass x', '"yes\\nrequirepass x"'],
  ];
  for (const [value, written] of quoting) {
    it(`writes ${JSON.stringify(value)} as one argument`, () => {
      const text = conf(render(database('redis', { parameters: { 'notify-keyspace-events': value } })));
      assert.ok(text.includes(`\nnotify-keyspace-events ${written}\n`), text);
      assert.doesNotMatch(text, /^requirepass/m);
    });
  }
});

describe('redis probes and pod', () => {
  it('pings with redis-cli for startup, readiness and liveness', () => {
    const redis = container(render(database('redis')), 'redis');
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      assert.deepEqual(redis[probe].exec.command, ['sh', '-c', 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG']);
    }
    assert.deepEqual(redis.ports, [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }]);
  });

  it('mounts data at /data and the configuration read-only', () => {
    const state = render(database('redis'));
    assert.deepEqual(container(state, 'redis').volumeMounts, [
      { name: 'data', mountPath: '/data' },
      { name: 'config', mountPath: '/etc/strongroom', readOnly: true },
    ]);
    assert.deepEqual(podSpec(state).volumes, [{ name: 'config', configMap: { name: 'orders-config' } }]);
  });
});
