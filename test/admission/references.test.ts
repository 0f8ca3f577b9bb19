// Object references alone, over the Restore definition and objects held in a map: checked on create, and on an
// update only when the spec changes and the object is not being deleted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { objectReferences } from '../../src/admission/references.ts';
import type { ObjectLookup } from '../../src/api/definition.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { resources } from '../../src/api/resources.ts';
import { attributes } from './attributes.ts';

const backup = (name: string, databaseName: string, phase: string): KubeObject => ({
  apiVersion: 'strongroom.dev/v1alpha1',
  kind: 'Backup',
  metadata: { name, namespace: 'shop' },
  spec: { databaseName },
  status: { phase },
});
const stored = new Map<string, KubeObject>([
  ['backups/shop/done', backup('done', 'orders', 'Completed')],
  ['backups/shop/running', backup('running', 'orders', 'Running')],
]);
const lookup: ObjectLookup = async (plural, namespace, name) => stored.get(`${plural}/${namespace}/${name}`);
const plugin = objectReferences(resources, lookup);

const restore = (backupName: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'strongroom.dev/v1alpha1',
  kind: 'Restore',
  metadata: { name: 'r', namespace: 'shop', ...extra },
  spec: { databaseName: 'orders', backupName, target: { newDatabase: { name: 'copy' } } },
});
const on = (overrides: Parameters<typeof attributes>[0]) =>
  attributes({ resource: { group: 'strongroom.dev', version: 'v1alpha1', resource: 'restores' }, kind: { group: 'strongroom.dev', version: 'v1alpha1', kind: 'Restore' }, name: 'r', ...overrides });

describe('ObjectReferences', () => {
  it('handles creates and updates of resources that declare references, not their subresources', () => {
    assert.equal(plugin.handles(on({ operation: 'CREATE' })), true);
    assert.equal(plugin.handles(on({ operation: 'UPDATE' })), true);
    assert.equal(plugin.handles(on({ operation: 'UPDATE', subresource: 'status' })), false);
    assert.equal(plugin.handles(on({ operation: 'DELETE' })), false);
    assert.equal(plugin.handles(attributes({ operation: 'CREATE' })), false, 'Databases declare none');
  });

  it('refuses a create naming a backup that is missing or not Completed, with the field', async () => {
    for (const [name, reason] of [
      ['gone', 'FieldValueNotFound'],
      ['running', 'FieldValueInvalid'],
    ] as const) {
      await assert.rejects(plugin.validate(on({ object: restore(name) })), (err: any) => {
        assert.equal(err.code, 422);
        assert.deepEqual(err.details.causes.map((c: any) => [c.reason, c.field]), [[reason, 'spec.backupName']]);
        return true;
      });
    }
    assert.deepEqual(await plugin.validate(on({ object: restore('done') })), {});
  });

  it('checks an update that changes the spec', async () => {
    await assert.rejects(plugin.validate(on({ operation: 'UPDATE', object: restore('running'), oldObject: restore('done') })), { code: 422 });
  });

  it('lets through an update that leaves the spec alone, or of an object being deleted', async () => {
    const labelled = restore('gone', { labels: { a: 'b' } });
    assert.deepEqual(await plugin.validate(on({ operation: 'UPDATE', object: labelled, oldObject: restore('gone') })), {});
    const deleting = restore('running', { deletionTimestamp: '2025-01-01T00:00:00Z' });
    assert.deepEqual(await plugin.validate(on({ operation: 'UPDATE', object: deleting, oldObject: restore('done') })), {});
  });
});
