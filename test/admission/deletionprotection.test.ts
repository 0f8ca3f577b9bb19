// Deletion protection alone: a DELETE of an object with spec.deletionProtection true is refused with 403 and how to
// proceed; everything else passes. (test/registry/deletionprotection.test.ts drives it through the API.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deletionProtection } from '../../src/admission/deletionprotection.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { attributes } from './attributes.ts';

const db = (deletionProtection?: boolean): KubeObject => ({
  apiVersion: 'strongroom.dev/v1alpha1',
  kind: 'Database',
  metadata: { name: 'orders', namespace: 'shop' },
  spec: { engine: 'postgres', deletionProtection },
});

describe('DeletionProtection', () => {
  it('handles deletes of the resource itself only', () => {
    assert.equal(deletionProtection.handles(attributes({ operation: 'DELETE' })), true);
    for (const operation of ['CREATE', 'UPDATE', 'CONNECT'] as const) assert.equal(deletionProtection.handles(attributes({ operation })), false);
  });

  it('refuses a protected object with 403 Forbidden and says how to proceed', async () => {
    await assert.rejects(deletionProtection.validate(attributes({ operation: 'DELETE', oldObject: db(true) })), {
      code: 403,
      reason: 'Forbidden',
      message: 'databases.strongroom.dev "orders" is forbidden: database shop/orders has deletionProtection: true; set it to false first',
    });
  });

  it('lets an unprotected object go', async () => {
    for (const protection of [false, undefined]) assert.deepEqual(await deletionProtection.validate(attributes({ operation: 'DELETE', oldObject: db(protection) })), {});
  });
});
