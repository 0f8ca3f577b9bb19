// NamespaceLifecycle alone, over namespaces held in memory in place of the cluster's informer (the cluster wiring is
// exercised against a real control plane by test/server/delegation.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namespaceLifecycle, type Namespace, type NamespaceLister } from '../../src/admission/namespacelifecycle.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { attributes } from './attributes.ts';

/** A cache with `cached` namespaces and a cluster with `live` ones (what the cache has not seen yet). */
function lister(cached: Record<string, Namespace>, live: Record<string, Namespace> = {}, synced = true): NamespaceLister & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    hasSynced: () => synced,
    cached: (name) => cached[name],
    async read(name) {
      reads.push(name);
      if (name === 'broken') throw new Error('connection refused');
      return live[name];
    },
  };
}

const active = { status: { phase: 'Active' } };
const terminating = { status: { phase: 'Terminating' } };
const generated: KubeObject = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { generateName: 'orders-', namespace: 'shop' } };

describe('NamespaceLifecycle', () => {
  it('handles creates in a namespace only', () => {
    const plugin = namespaceLifecycle(lister({}));
    assert.equal(plugin.handles(attributes()), true);
    assert.equal(plugin.handles(attributes({ namespace: '' })), false);
    for (const operation of ['UPDATE', 'DELETE', 'CONNECT'] as const) assert.equal(plugin.handles(attributes({ operation })), false);
  });

  it('admits a create into an active namespace from the cache, without a live lookup', async () => {
    const namespaces = lister({ shop: active });
    assert.deepEqual(await namespaceLifecycle(namespaces, 0).admit(attributes()), {});
    assert.deepEqual(namespaces.reads, []);
  });

  it('looks a namespace the cache has not seen up live before refusing', async () => {
    const namespaces = lister({}, { shop: active });
    assert.deepEqual(await namespaceLifecycle(namespaces, 0).admit(attributes()), {});
    assert.deepEqual(namespaces.reads, ['shop']);
  });

  it('answers 404 for a namespace that does not exist, 500 when the cluster cannot say', async () => {
    await assert.rejects(namespaceLifecycle(lister({}), 0).admit(attributes()), { code: 404, message: 'namespaces "shop" not found' });
    await assert.rejects(namespaceLifecycle(lister({}), 0).admit(attributes({ namespace: 'broken' })), { code: 500, message: /connection refused/ });
  });

  it('refuses a create into a terminating namespace with 403 and a NamespaceTerminating cause, named by generateName', async () => {
    await assert.rejects(namespaceLifecycle(lister({ shop: terminating }), 0).admit(attributes({ name: '', object: generated })), (err: any) => {
      assert.equal(err.code, 403);
      assert.equal(err.message, 'databases.strongroom.dev "orders-" is forbidden: unable to create new content in namespace shop because it is being terminated');
      assert.deepEqual(err.details.causes, [{ reason: 'NamespaceTerminating', message: 'namespace shop is being terminated', field: 'metadata.namespace' }]);
      return true;
    });
  });

  it('refuses everything until the cache is filled', async () => {
    await assert.rejects(namespaceLifecycle(lister({ shop: active }, {}, false), 0).admit(attributes()), {
      code: 403,
      message: 'databases.strongroom.dev "orders" is forbidden: not yet ready to handle request',
    });
  });
});
