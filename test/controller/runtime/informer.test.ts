// ClusterInformer against a real kube-apiserver; faults come from a FaultProxy in front of it (cut, refused and
// stalled connections) and, for the 410 a real apiserver only gives after compaction, from a client wrapper that
// answers one watch with Expired.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeList, KubeObject } from '../../../src/api/meta.ts';
import { isStatusError, statusError, type KubeClient, type KubeConfigClient } from '../../../src/controller/runtime/client.ts';
import { childInformers, ClusterInformer, type ClusterInformerOptions } from '../../../src/controller/runtime/informer.ts';
import { resourcePath, resourceTypes } from '../../../src/controller/runtime/kinds.ts';
import { eventually, startTestCluster, type TestCluster } from './cluster.ts';
import { FaultProxy } from './faultproxy.ts';

/** Counts lists, and answers the next watch with 410 Expired once armed. */
class ExpiringClient implements KubeClient {
  readonly inner: KubeClient;
  lists = 0;
  expireNextWatch = false;

  constructor(inner: KubeClient) {
    this.inner = inner;
  }

  request<T>(method: string, path: string, options?: Parameters<KubeClient['request']>[2]): Promise<T> {
    if (method === 'GET') this.lists++;
    return this.inner.request<T>(method, path, options);
  }

  watch(...args: Parameters<KubeClient['watch']>): Promise<void> {
    if (this.expireNextWatch) {
      this.expireNextWatch = false;
      return Promise.reject(statusError({ code: 410, reason: 'Expired', message: 'too old resource version' }, 410));
    }
    return this.inner.watch(...args);
  }
}

describe('childInformers', () => {
  it('makes one informer per kind of child, none started', () => {
    const informers = childInformers({ client: new ExpiringClient({} as KubeClient), labelSelector: 'app.kubernetes.io/managed-by=strongroom' });
    assert.deepEqual(Object.keys(informers).sort(), [
      'ConfigMap',
      'Job',
      'NetworkPolicy',
      'PersistentVolumeClaim',
      'Pod',
      'PodDisruptionBudget',
      'Secret',
      'Service',
      'StatefulSet',
    ]);
    assert.ok(Object.values(informers).every((informer) => informer instanceof ClusterInformer && !informer.hasSynced()));
  });
});

describe('ClusterInformer on a real control plane', () => {
  let cluster: TestCluster;
  let admin: KubeConfigClient;
  let proxy: FaultProxy;
  let namespace: string;
  const informers: ClusterInformer[] = [];

  before(async () => {
    cluster = await startTestCluster();
    admin = cluster.client();
    namespace = await cluster.namespace('informer-test');
    proxy = await new FaultProxy(new URL(cluster.plane.apiServerURL)).listen();
  });

  after(async () => {
    await Promise.all(informers.map((informer) => informer.stop()));
    await proxy?.close();
    await cluster?.stop();
  });

  const path = (name?: string) => resourcePath(resourceTypes.ConfigMap, namespace, name);
  const create = (name: string, labels: Record<string, string>, data: Record<string, string> = {}) =>
    admin.request<KubeObject>('POST', path(), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data } });
  const patch = (name: string, body: object) =>
    admin.request<KubeObject>('PATCH', path(name), { body, contentType: 'application/merge-patch+json' });
  const remove = (name: string) => admin.request('DELETE', path(name));
  const serverState = async (selector: string) =>
    (await admin.request<KubeList>('GET', path(), { query: { labelSelector: selector } })).items
      .map((obj) => `${obj.metadata.name}@${obj.metadata.resourceVersion}`)
      .sort();
  const cacheState = (informer: ClusterInformer) =>
    informer.list().map((obj) => `${obj.metadata.name}@${obj.metadata.resourceVersion}`).sort();

  function startInformer(options: Omit<ClusterInformerOptions, 'type' | 'namespace'>): { informer: ClusterInformer; events: string[] } {
    const informer = new ClusterInformer({ type: resourceTypes.ConfigMap, namespace, ...options });
    const events: string[] = [];
    informer.addEventHandler({
      add: (obj) => events.push(`add ${obj.metadata.name}`),
      update: (old, obj) => events.push(`update ${obj.metadata.name} ${JSON.stringify(old.data)}->${JSON.stringify(obj.data)}`),
      delete: (obj) => events.push(`delete ${obj.metadata.name}`),
    });
    informers.push(informer);
    informer.start();
    return { informer, events };
  }

  it('sees adds, updates and deletes of the ConfigMaps its selector picks, as plain JSON', async () => {
    await create('pre-1', { test: 't1' }, { v: '1' });
    await create('pre-2', { test: 't1' });
    await create('pre-3', { test: 't1' });
    await create('unlabelled', {});
    // Pages of one, so the list needs continue tokens.
    const { informer, events } = startInformer({ client: admin, labelSelector: 'test=t1', pageSize: 1 });
    await informer.waitForSync();
    assert.deepEqual(events.sort(), ['add pre-1', 'add pre-2', 'add pre-3']);
    const listed = informer.get(namespace, 'pre-1')!;
    assert.equal(listed.apiVersion, 'v1');
    assert.equal(listed.kind, 'ConfigMap');
    assert.equal(typeof listed.metadata.creationTimestamp, 'string');

    events.length = 0;
    await create('live', { test: 't1' });
    await patch('pre-1', { data: { v: '2' } });
    await remove('pre-2');
    await patch('pre-3', { metadata: { labels: { test: 'elsewhere' } } }); // leaves the selection
    await create('other', { test: 'not-t1' });
    await eventually('the informer has seen every change', () => events.length === 4);
    assert.deepEqual(events, ['add live', 'update pre-1 {"v":"1"}->{"v":"2"}', 'delete pre-2', 'delete pre-3']);
    assert.equal(typeof informer.get(namespace, 'live')?.metadata.creationTimestamp, 'string');
    assert.deepEqual(cacheState(informer), await serverState('test=t1'));
  });

  it('survives cut and refused connections, resuming with what changed meanwhile', async () => {
    await create('a', { test: 't2' }, { v: '1' });
    await create('d', { test: 't2' });
    const { informer, events } = startInformer({ client: cluster.client(proxy.url), labelSelector: 'test=t2', backoff: { initialMs: 100, maxMs: 400 } });
    await informer.waitForSync();
    events.length = 0;

    proxy.refuse(true);
    proxy.cut();
    await patch('a', { data: { v: '2' } });
    await create('b', { test: 't2' });
    await remove('d');
    const refusedBefore = proxy.refused;
    await eventually('the informer has retried against the refusing proxy', () => proxy.refused >= refusedBefore + 2);
    assert.deepEqual(events, [], 'nothing can arrive while the connection is down');
    proxy.refuse(false);

    await eventually('the informer has caught up', () => events.length === 3);
    assert.deepEqual(events, ['update a {"v":"1"}->{"v":"2"}', 'add b', 'delete d']);
    assert.deepEqual(cacheState(informer), await serverState('test=t2'));
  });

  it('restarts a watch that has gone silent (watchdog)', async () => {
    const { informer } = startInformer({ client: cluster.client(proxy.url), labelSelector: 'test=t3', silenceLimitMs: 1500, backoff: { initialMs: 100, maxMs: 400 } });
    await informer.waitForSync();
    const accepted = proxy.accepted;
    proxy.stall();
    await create('after-stall', { test: 't3' });
    await eventually('the new ConfigMap arrives over a new connection', () => informer.get(namespace, 'after-stall') !== undefined);
    assert.ok(proxy.accepted > accepted, 'the informer opened a new connection');
  });

  it('relists when told its resourceVersion is too old, and reports deletions it missed', async () => {
    await create('x', { test: 't4' }, { v: '1' });
    await create('y', { test: 't4' });
    const client = new ExpiringClient(cluster.client(proxy.url));
    const { informer, events } = startInformer({ client, labelSelector: 'test=t4', backoff: { initialMs: 100, maxMs: 400 } });
    await informer.waitForSync();
    assert.equal(client.lists, 1);
    events.length = 0;

    proxy.refuse(true);
    proxy.cut();
    await patch('x', { data: { v: '2' } });
    await remove('y');
    await create('z', { test: 't4' });
    client.expireNextWatch = true;
    proxy.refuse(false);

    await eventually('the relist has reported every change', () => events.length === 3);
    assert.deepEqual(events.sort(), ['add z', 'delete y', 'update x {"v":"1"}->{"v":"2"}']);
    assert.ok(client.lists >= 2, 'the informer listed again');
    assert.equal(client.expireNextWatch, false);
    assert.deepEqual(cacheState(informer), await serverState('test=t4'));
  });

  it("turns the server's Status into a StatusError", async () => {
    const err = await admin.request('GET', path('missing')).catch((e: unknown) => e);
    assert.ok(isStatusError(err, 404), String(err));
    assert.equal(err.reason, 'NotFound');
    assert.equal(err.details?.name, 'missing');
    assert.match(err.message, /configmaps "missing" not found/);
  });
});
