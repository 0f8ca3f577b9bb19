// The helpers against Strongroom's own resource, the Database, reached as a reconciler reaches it: through
// kube-apiserver's aggregator. The garbage collector test is slow by nature (about 40 s): kube-controller-manager
// learns of a newly registered API group only at its 30 s discovery resync, and backs off on a dependent whose
// owner's kind it cannot resolve yet.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../../src/api/meta.ts';
import { addFinalizer, applyObject, reconcileWithFinalizer, setControllerReference } from '../../../src/controller/runtime/apply.ts';
import { clientStore } from './finalizerstore.ts';
import { isStatusError, type KubeConfigClient } from '../../../src/controller/runtime/client.ts';
import { resourcePath, resourceTypeOf, resourceTypes } from '../../../src/controller/runtime/kinds.ts';
import { eventually, startTestCluster, type TestCluster } from './cluster.ts';

const FINALIZER = 'strongroom.dev/cleanup';

describe('apply helpers with a Database behind the aggregator', () => {
  let cluster: TestCluster;
  let admin: KubeConfigClient;
  let namespace: string;

  before(async () => {
    cluster = await startTestCluster({ strongroom: true });
    admin = cluster.client();
    namespace = await cluster.namespace('aggregated-test');
  });

  after(() => cluster?.stop());

  const configMap = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data: {} });
  const read = (name: string) => admin.request<KubeObject>('GET', resourcePath(resourceTypes.ConfigMap, namespace, name));

  const databases = resourceTypeOf('strongroom.dev/v1alpha1', 'Database');
  const createDatabase = (name: string) =>
    admin.request<KubeObject>('POST', resourcePath(databases, namespace), {
      body: { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name }, spec: { engine: 'postgres' } },
    });
  const readDatabase = (name: string) => admin.request<KubeObject>('GET', resourcePath(databases, namespace, name));

  it("guards a Database's deletion with a finalizer, through the aggregator to Strongroom's own JSON patch", async () => {
    const created = await createDatabase('guarded');
    const guarded = await addFinalizer(admin, created, FINALIZER);
    assert.deepEqual(guarded.metadata.finalizers, [FINALIZER]);
    const stale = await addFinalizer(admin, created, 'example.com/late').catch((e: unknown) => e);
    assert.ok(isStatusError(stale, 422), String(stale));

    await admin.request('DELETE', resourcePath(databases, namespace, 'guarded'));
    const terminating = await readDatabase('guarded');
    assert.ok(terminating.metadata.deletionTimestamp, 'held by the finalizer');
    const events: string[] = [];
    await reconcileWithFinalizer(clientStore(admin, databases), FINALIZER, terminating, {
      apply: async () => void events.push('apply'),
      cleanup: async () => (events.push('cleanup'), { done: true }),
    });
    assert.deepEqual(events, ['cleanup']);
    const gone = await readDatabase('guarded').catch((e: unknown) => e);
    assert.ok(isStatusError(gone, 404), String(gone));
  });

  it('owns children by a Database: the garbage collector finds it through the aggregator and collects them', async () => {
    const owner = await createDatabase('owner');
    await applyObject(admin, setControllerReference(configMap('owned-by-database'), owner));
    // The owner exists, so the collector leaves the child alone; once the Database is deleted, the child goes.
    await admin.request('DELETE', resourcePath(databases, namespace, 'owner'));
    await eventually('the garbage collector deletes the child', async () => isStatusError(await read('owned-by-database').catch((e: unknown) => e), 404), 75_000);
  });
});
