import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Operation } from 'fast-json-patch';
import type { KubeObject } from '../../../src/api/meta.ts';
import {
  addFinalizer,
  addFinalizerPatch,
  AlreadyOwnedError,
  applyObject,
  controllerOf,
  removeFinalizer,
  removeFinalizerPatch,
  setControllerReference,
  reconcileWithFinalizer,
  type Cleanup,
} from '../../../src/controller/runtime/apply.ts';
import { isStatusError, type KubeClient, type KubeConfigClient, type RequestOptions } from '../../../src/controller/runtime/client.ts';
import { TerminalError } from '../../../src/controller/runtime/controller.ts';
import { resourcePath, resourceTypes } from '../../../src/controller/runtime/kinds.ts';
import { applyJsonPatch } from '../../../src/registry/jsonpatch.ts';
import { eventually, startTestCluster, type TestCluster } from './cluster.ts';
import { clientStore } from './finalizerstore.ts';

const FINALIZER = 'strongroom.dev/cleanup';

function db(meta: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { namespace: 'shop', name: 'orders', uid: 'db-uid', resourceVersion: '7', ...meta } };
}

function service(meta: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'shop', name: 'orders-primary', ...meta } };
}

describe('setControllerReference', () => {
  const ref = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', name: 'orders', uid: 'db-uid', controller: true, blockOwnerDeletion: true };

  it('makes the owner the controller, keeping other owners and leaving the input alone', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'x-uid' };
    const child = service({ ownerReferences: [other] });
    const owned = setControllerReference(child, db());
    assert.deepEqual(owned.metadata.ownerReferences, [other, ref]);
    assert.deepEqual(controllerOf(owned), ref);
    assert.deepEqual(child.metadata.ownerReferences, [other]);
  });

  it("replaces an earlier reference to the same owner (a recreated Database's new uid)", () => {
    const stale = { ...ref, uid: 'old-uid' };
    assert.deepEqual(setControllerReference(service({ ownerReferences: [stale] }), db()).metadata.ownerReferences, [ref]);
  });

  it('refuses a child another object controls, as a terminal error', () => {
    const foreign = { ...ref, kind: 'Backup', name: 'nightly' };
    const err = (() => {
      try {
        setControllerReference(service({ ownerReferences: [foreign] }), db());
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof AlreadyOwnedError && err instanceof TerminalError, String(err));
  });

  it('refuses owners that cannot own the child', () => {
    assert.throws(() => setControllerReference(service({ namespace: 'other' }), db()), /different namespace/);
    assert.throws(() => setControllerReference(service(), db({ uid: undefined })), /needs a name and a uid/);
  });
});

describe('finalizer patches (applied by our own API server)', () => {
  /** Our server answers a failed `test` with 422 and says so in the cause. */
  const testFails = (err: unknown): boolean => isStatusError(err, 422) && /test failed/.test(err.details?.causes?.[0]?.message ?? '');

  it('adds to an object without finalizers, guarded by its resourceVersion', () => {
    const patched = applyJsonPatch(db(), addFinalizerPatch(db(), FINALIZER));
    assert.deepEqual(patched.metadata.finalizers, [FINALIZER]);
    assert.throws(() => applyJsonPatch(db({ resourceVersion: '8' }), addFinalizerPatch(db(), FINALIZER)), testFails);
  });

  it('appends to existing finalizers, guarded by the list as read', () => {
    const read = db({ finalizers: ['other'] });
    assert.deepEqual(applyJsonPatch(read, addFinalizerPatch(read, FINALIZER)).metadata.finalizers, ['other', FINALIZER]);
    // Someone else changed the list meanwhile: the patch must fail rather than overwrite.
    assert.throws(() => applyJsonPatch(db({ finalizers: ['other', 'third'] }), addFinalizerPatch(read, FINALIZER)), testFails);
    assert.equal(addFinalizerPatch(db({ finalizers: [FINALIZER] }), FINALIZER), undefined);
  });

  it('removes by index, guarded by the name at that index', () => {
    const read = db({ finalizers: ['a', FINALIZER, 'b'] });
    assert.deepEqual(applyJsonPatch(read, removeFinalizerPatch(read, FINALIZER)).metadata.finalizers, ['a', 'b']);
    assert.throws(() => applyJsonPatch(db({ finalizers: [FINALIZER, 'b'] }), removeFinalizerPatch(read, FINALIZER)), testFails);
    assert.equal(removeFinalizerPatch(db(), FINALIZER), undefined);
  });
});

describe('reconcileWithFinalizer', () => {
  /** A store that applies JSON patches with our own server's JSON patch, and records them. */
  class Store {
    patches: Operation[][] = [];
    current: KubeObject;
    constructor(current: KubeObject) {
      this.current = current;
    }
    async get(): Promise<KubeObject | undefined> {
      return this.current;
    }
    async patch(obj: KubeObject, operations: Operation[]): Promise<KubeObject> {
      this.patches.push(operations);
      this.current = applyJsonPatch(this.current, operations);
      return this.current;
    }
  }

  const deleting = { deletionTimestamp: '2026-01-01T00:00:00Z' };
  const cases: Array<{ name: string; obj: KubeObject; cleanup?: Cleanup; wanted?: boolean; calls: string[]; finalizers: string[] | undefined }> = [
    { name: 'present, live: apply', obj: db({ finalizers: [FINALIZER] }), calls: [`apply ${FINALIZER}`], finalizers: [FINALIZER] },
    { name: 'absent, live: the finalizer is added, then apply sees it', obj: db(), calls: [`apply ${FINALIZER}`], finalizers: [FINALIZER] },
    { name: 'absent, live, not wanted: apply without it', obj: db(), wanted: false, calls: ['apply'], finalizers: undefined },
    { name: 'present, deleted: cleanup, then removal', obj: db({ finalizers: ['other', FINALIZER], ...deleting }), calls: ['cleanup'], finalizers: ['other'] },
    {
      name: 'present, deleted, cleanup unfinished: the finalizer stays',
      obj: db({ finalizers: [FINALIZER], ...deleting }),
      cleanup: { done: false, requeueAfter: 5000 },
      calls: ['cleanup'],
      finalizers: [FINALIZER],
    },
    { name: 'absent, deleted: nothing', obj: db(deleting), calls: [], finalizers: undefined },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const store = new Store(c.obj);
      const seen: string[] = [];
      const result = await reconcileWithFinalizer(store, FINALIZER, c.obj, {
        apply: async (live) => {
          seen.push(['apply', ...(live.metadata.finalizers ?? [])].join(' '));
        },
        cleanup: async () => {
          seen.push('cleanup');
          return c.cleanup ?? { done: true };
        },
        ...(c.wanted === undefined ? {} : { wanted: () => c.wanted! }),
      });
      assert.deepEqual(seen, c.calls);
      assert.deepEqual(store.current.metadata.finalizers, c.finalizers);
      assert.deepEqual(result, c.cleanup && !c.cleanup.done ? { requeueAfter: 5000 } : undefined);
    });
  }

  it('removes the finalizer from the object as it is after cleanup, with a guarded patch', async () => {
    const store = new Store(db({ finalizers: [FINALIZER], ...deleting }));
    await reconcileWithFinalizer(store, FINALIZER, store.current, {
      apply: async () => {},
      cleanup: async () => {
        // Cleanup wrote to the object meanwhile (another finalizer came first).
        store.current = { ...store.current, metadata: { ...store.current.metadata, finalizers: ['first', FINALIZER] } };
        return { done: true };
      },
    });
    assert.deepEqual(store.current.metadata.finalizers, ['first']);
    assert.deepEqual(store.patches.at(-1)![0], { op: 'test', path: '/metadata/finalizers/1', value: FINALIZER });
  });

  it('keeps the finalizer when cleanup throws', async () => {
    const store = new Store(db({ finalizers: [FINALIZER], ...deleting }));
    const failing = reconcileWithFinalizer(store, FINALIZER, store.current, {
      apply: async () => {},
      cleanup: async () => {
        throw new Error('PVC still bound');
      },
    });
    await assert.rejects(failing, /PVC still bound/);
    assert.deepEqual(store.patches, []);
  });
});


describe('apply and finalizers on a real control plane', () => {
  let cluster: TestCluster;
  let admin: KubeConfigClient;
  let namespace: string;

  before(async () => {
    cluster = await startTestCluster();
    admin = cluster.client();
    namespace = await cluster.namespace('apply-test');
  });

  after(() => cluster?.stop());

  const configMap = (name: string, data: Record<string, string>, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, ...extra },
    data,
  });
  const path = (name: string) => resourcePath(resourceTypes.ConfigMap, namespace, name);
  const read = (name: string) => admin.request<KubeObject>('GET', path(name));

  it('creates and updates by server-side apply under the strongroom field manager', async () => {
    const created = await applyObject(admin, configMap('settings', { a: '1' }));
    assert.deepEqual(created.data, { a: '1' });
    const applied = await applyObject(admin, configMap('settings', { a: '2', b: '3' }));
    assert.deepEqual(applied.data, { a: '2', b: '3' });
    const manager = applied.metadata.managedFields?.find((entry) => entry.manager === 'strongroom');
    assert.equal(manager?.operation, 'Apply');
    assert.ok(manager?.fieldsV1['f:data']?.['f:a'] && manager.fieldsV1['f:data']['f:b']);

    // Dropping a field from the applied configuration removes it: the controller states all it wants.
    assert.deepEqual((await applyObject(admin, configMap('settings', { a: '2' }))).data, { a: '2' });
  });

  it('takes back a field someone edited by hand (force), which a plain apply could not', async () => {
    await applyObject(admin, configMap('owned', { replicas: '3' }));
    await admin.request('PATCH', path('owned'), {
      query: { fieldManager: 'kubectl-edit' },
      body: { data: { replicas: '5' } },
      contentType: 'application/merge-patch+json',
    });
    const conflict = await applyObject(admin, configMap('owned', { replicas: '3' }), { force: false }).catch((e: unknown) => e);
    assert.ok(isStatusError(conflict, 409), String(conflict));
    assert.deepEqual((await applyObject(admin, configMap('owned', { replicas: '3' }))).data, { replicas: '3' });
  });

  it('applies a StatefulSet through its apps/v1 path', async () => {
    const statefulSet: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace, labels: { app: 'db' } },
      spec: {
        replicas: 0,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'registry.invalid/db:1' }] } },
      },
    };
    const applied = await applyObject(admin, statefulSet);
    assert.equal(applied.kind, 'StatefulSet');
    assert.equal(applied.spec.serviceName, 'db');
  });

  it('adds and removes finalizers with guarded JSON patches; a stale read fails instead of overwriting', async () => {
    const created = await admin.request<KubeObject>('POST', resourcePath(resourceTypes.ConfigMap, namespace), { body: configMap('guarded', {}) });
    const withOne = await addFinalizer(admin, created, FINALIZER);
    assert.deepEqual(withOne.metadata.finalizers, [FINALIZER]);
    const withTwo = await addFinalizer(admin, withOne, 'example.com/other');
    assert.deepEqual(withTwo.metadata.finalizers, [FINALIZER, 'example.com/other']);

    // Both stale: `created` has an old resourceVersion, `withOne` an old finalizer list.
    for (const stale of [created, withOne]) {
      const err = await addFinalizer(admin, stale, 'example.com/late').catch((e: unknown) => e);
      assert.ok(isStatusError(err, 422), String(err));
    }
    const err = await removeFinalizer(admin, { ...withTwo, metadata: { ...withTwo.metadata, finalizers: ['example.com/other', FINALIZER] } }, FINALIZER).catch(
      (e: unknown) => e,
    );
    assert.ok(isStatusError(err, 422), 'the index no longer holds that finalizer');

    const withoutOne = await removeFinalizer(admin, withTwo, FINALIZER);
    assert.deepEqual(withoutOne.metadata.finalizers, ['example.com/other']);
  });

  it('holds a deleted object until reconcileWithFinalizer has cleaned up', async () => {
    const created = await admin.request<KubeObject>('POST', resourcePath(resourceTypes.ConfigMap, namespace), { body: configMap('guarded-delete', {}) });
    const store = clientStore(admin, resourceTypes.ConfigMap);
    const events: string[] = [];
    const handlers = {
      apply: async () => void events.push('apply'),
      cleanup: async () => (events.push('cleanup'), { done: true as const }),
    };
    await reconcileWithFinalizer(store, FINALIZER, created, handlers);
    await admin.request('DELETE', path('guarded-delete'));
    const terminating = await read('guarded-delete');
    assert.ok(terminating.metadata.deletionTimestamp, 'still there, being deleted');
    await reconcileWithFinalizer(store, FINALIZER, terminating, handlers);
    assert.deepEqual(events, ['apply', 'cleanup']);
    const gone = await read('guarded-delete').catch((e: unknown) => e);
    assert.ok(isStatusError(gone, 404), String(gone));
  });

  it("writes owner references the garbage collector follows: the owner's deletion removes the child", async () => {
    const owner = await applyObject(admin, configMap('owner', {}));
    await applyObject(admin, setControllerReference(configMap('child', {}), owner));
    const child = await read('child');
    assert.deepEqual(controllerOf(child), { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true });
    await admin.request('DELETE', path('owner'));
    await eventually('the garbage collector deletes the child', async () => isStatusError(await read('child').catch((e: unknown) => e), 404), 30_000);
  });
});
