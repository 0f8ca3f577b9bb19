// deletionProtection: true makes the DELETE itself fail, through the API as a client sees it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';

const GV = '/apis/strongroom.dev/v1alpha1';
const NS = `${GV}/namespaces/shop/databases`;

describe('deletion protection', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t?.stop());

  const create = async (name: string, deletionProtection: boolean) => {
    const res = await t.request('POST', NS, { body: { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name }, spec: { engine: 'redis', deletionProtection } } });
    assert.equal(res.status, 201, res.text);
  };

  it('refuses the DELETE with 403 Forbidden and says how to proceed, and leaves the object untouched', async () => {
    await create('orders', true);
    for (const query of ['', '?dryRun=All']) {
      const res = await t.request('DELETE', `${NS}/orders${query}`);
      assert.equal(res.status, 403, res.text);
      assert.equal(res.json.kind, 'Status');
      assert.equal(res.json.reason, 'Forbidden');
      assert.equal(
        res.json.message,
        'databases.strongroom.dev "orders" is forbidden: database shop/orders has deletionProtection: true; set it to false first',
      );
      assert.deepEqual(res.json.details, { name: 'orders', group: 'strongroom.dev', kind: 'databases' });
    }
    const stored = await t.request('GET', `${NS}/orders`);
    assert.equal(stored.json.metadata.deletionTimestamp, undefined);
  });

  it('lets the DELETE through once deletionProtection is false', async () => {
    const patch = await t.request('PATCH', `${NS}/orders`, {
      body: JSON.stringify({ spec: { deletionProtection: false } }),
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(patch.status, 200, patch.text);
    assert.equal((await t.request('DELETE', `${NS}/orders`)).status, 200);
    assert.equal((await t.request('GET', `${NS}/orders`)).status, 404);
  });

  it('a collection delete removes the unprotected objects and answers the refusal', async () => {
    await create('kept', true);
    await create('gone', false);
    const res = await t.request('DELETE', NS);
    assert.equal(res.status, 403, res.text);
    assert.equal((await t.request('GET', `${NS}/gone`)).status, 404);
    assert.equal((await t.request('GET', `${NS}/kept`)).status, 200);
  });
});
