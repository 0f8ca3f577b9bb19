// Two API servers on one etcd (--storage=etcd), as two replicas of the Deployment: each serves what the other wrote,
// from its own watch cache, and their writes race into Conflicts, not lost updates.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEtcd, type EtcdServer } from '../support/etcd.ts';
import { DB_PATH, database, startTestServer, type TestServer } from '../support/server.ts';

describe('two servers on one etcd', () => {
  let etcd: EtcdServer;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    etcd = await startEtcd();
    const settings = { servers: [etcd.url], prefix: '/strongroom-test/' };
    [a, b] = await Promise.all([startTestServer({ etcd: settings }), startTestServer({ etcd: settings })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await etcd?.stop();
  });

  it('lists and watches through one server what was created through the other', async () => {
    const start = (await b.request('GET', DB_PATH('shop'))).json.metadata.resourceVersion;
    const watch = await b.watch(`${DB_PATH('shop')}?watch=1&resourceVersion=${start}`);
    const created = await a.request('POST', DB_PATH('shop'), { body: database('orders', 'shop') });
    assert.equal(created.status, 201, created.text);
    const { uid, resourceVersion } = created.json.metadata;

    const [event] = await watch.waitFor(1);
    watch.stop();
    assert.equal(event!.type, 'ADDED');
    assert.equal(event!.object.metadata.uid, uid);
    const list = await b.request('GET', `${DB_PATH('shop')}?resourceVersion=${resourceVersion}&resourceVersionMatch=NotOlderThan`);
    assert.deepEqual(list.json.items.map((item: any) => item.metadata.uid), [uid]);
    assert.ok(Number(list.json.metadata.resourceVersion) >= Number(resourceVersion));
    const got = await b.request('GET', `${DB_PATH('shop')}/orders`);
    assert.equal(got.json.metadata.resourceVersion, resourceVersion);
  });

  it('refuses through one server a name taken through the other', async () => {
    const again = await b.request('POST', DB_PATH('shop'), { body: database('orders', 'shop') });
    assert.equal(again.status, 409);
    assert.equal(again.json.reason, 'AlreadyExists');
  });

  it('gives one of two servers updating from the same resourceVersion a Conflict', async () => {
    const current = (await a.request('GET', `${DB_PATH('shop')}/orders`)).json;
    const replace = (server: TestServer, replicas: number) =>
      server.request('PUT', `${DB_PATH('shop')}/orders`, { body: { ...current, spec: { ...current.spec, replicas } } });
    const results = await Promise.all([replace(a, 2), replace(b, 3)]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409], results.map((r) => r.text).join('\n'));
    const winner = results.find((r) => r.status === 200)!.json;
    for (const server of [a, b]) {
      const list = await server.request('GET', `${DB_PATH('shop')}?resourceVersion=${winner.metadata.resourceVersion}&resourceVersionMatch=NotOlderThan`);
      assert.equal(list.json.items[0].spec.replicas, winner.spec.replicas, 'both servers serve the winner');
    }
  });
});
