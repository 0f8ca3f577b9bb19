// A write that changes nothing writes nothing (as kube-apiserver serving a CRD): the identical re-apply GitOps tools
// send all day, a merge patch `{}`, a PUT of the object as read. resourceVersion stays, and watchers hear nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DB_PATH, database, startTestServer, type TestServer } from '../support/server.ts';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.stop();
});

const SPEC = { engine: 'redis', replicas: 1, backup: { schedule: '0 3 * * *', retention: { keepLast: 3 } } };

function apply(name: string, manager = 'gitops') {
  return t.request('PATCH', `${DB_PATH()}/${name}?fieldManager=${manager}`, {
    body: JSON.stringify({ ...database(name, 'default', SPEC), metadata: { name, labels: { app: 'shop' }, annotations: { owner: 'team-a' } } }),
    headers: { 'Content-Type': 'application/apply-patch+yaml' },
  });
}

/**
 * Runs `noOps` after `created`, then one real change; the first event a watch from `created`'s resourceVersion
 * delivers must be that change — no event in between, without waiting for a silence.
 */
async function assertNoEvents(name: string, created: any, noOps: () => Promise<void>) {
  const watch = await t.watch(`${DB_PATH()}?watch=true&resourceVersion=${created.metadata.resourceVersion}&fieldSelector=metadata.name%3D${name}`);
  try {
    await noOps();
    const stored = (await t.request('GET', `${DB_PATH()}/${name}`)).json;
    assert.equal(stored.metadata.resourceVersion, created.metadata.resourceVersion, 'the no-op writes kept resourceVersion');
    const changed = await t.request('PATCH', `${DB_PATH()}/${name}`, {
      body: { metadata: { labels: { changed: 'yes' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(changed.status, 200, changed.text);
    const [first] = await watch.waitFor(1);
    assert.equal(first!.type, 'MODIFIED');
    assert.equal(first!.object.metadata.labels.changed, 'yes', 'the first event is the real change');
    assert.equal(first!.object.metadata.resourceVersion, changed.json.metadata.resourceVersion);
  } finally {
    watch.stop();
  }
}

describe('no-op writes', () => {
  it('an identical re-apply after the apply that created the object', async () => {
    const created = await apply('reapply');
    assert.equal(created.status, 201, created.text);
    await assertNoEvents('reapply', created.json, async () => {
      for (let i = 0; i < 3; i++) {
        const again = await apply('reapply');
        assert.equal(again.status, 200, again.text);
        assert.equal(again.json.metadata.resourceVersion, created.json.metadata.resourceVersion);
        assert.deepEqual(again.json.metadata.managedFields, created.json.metadata.managedFields);
      }
    });
  });

  it('an identical apply after a POST', async () => {
    const created = await t.request('POST', `${DB_PATH()}?fieldManager=gitops`, {
      body: { ...database('posted', 'default', SPEC), metadata: { name: 'posted', labels: { app: 'shop' }, annotations: { owner: 'team-a' } } },
    });
    assert.equal(created.status, 201, created.text);
    const first = await apply('posted');
    assert.equal(first.status, 200, first.text);
    // Taking ownership as an applier is a change of managedFields, so a write; the next identical apply is not.
    await assertNoEvents('posted', first.json, async () => {
      const again = await apply('posted');
      assert.equal(again.json.metadata.resourceVersion, first.json.metadata.resourceVersion);
    });
  });

  it('a merge patch {} and a JSON patch []', async () => {
    const created = await t.request('POST', DB_PATH(), { body: database('patched', 'default', SPEC) });
    assert.equal(created.status, 201, created.text);
    await assertNoEvents('patched', created.json, async () => {
      for (const [type, body] of [
        ['application/merge-patch+json', '{}'],
        ['application/json-patch+json', '[]'],
      ]) {
        const res = await t.request('PATCH', `${DB_PATH()}/patched`, { body, headers: { 'Content-Type': type! } });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.metadata.resourceVersion, created.json.metadata.resourceVersion, type);
      }
    });
  });

  it('a PUT of the object as read, keys in another order, and of its status', async () => {
    const created = await t.request('POST', DB_PATH(), { body: database('put', 'default', SPEC) });
    assert.equal(created.status, 201, created.text);
    await assertNoEvents('put', created.json, async () => {
      const read = (await t.request('GET', `${DB_PATH()}/put`)).json;
      const reordered = Object.fromEntries(Object.entries({ ...read, metadata: Object.fromEntries(Object.entries(read.metadata).reverse()) }).reverse());
      for (const path of ['', '/status']) {
        const res = await t.request('PUT', `${DB_PATH()}/put${path}`, { body: reordered });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.metadata.resourceVersion, created.json.metadata.resourceVersion, path);
      }
    });
  });
});
