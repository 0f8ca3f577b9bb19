// Watch and resourceVersion semantics over HTTPS: representations, selector transitions, compacted history, future
// revisions and the list options kube-apiserver refuses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DB_PATH, database, startTestServer, type TestServer } from '../support/server.ts';

const MERGE = { 'Content-Type': 'application/merge-patch+json' };

describe('watch representations and selectors', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.stop();
  });

  it('streams Tables with column definitions in the first event only', async () => {
    await t.request('POST', DB_PATH('tw'), { body: database('a', 'tw') });
    const w = await t.watch(`${DB_PATH('tw')}?watch=1`, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    await t.request('POST', DB_PATH('tw'), { body: database('b', 'tw') });
    const events = await w.waitFor(2);
    w.stop();
    assert.equal(events[0]!.object.kind, 'Table');
    assert.ok(events[0]!.object.columnDefinitions.length > 0);
    assert.equal(events[1]!.object.columnDefinitions.length, 0);
    assert.equal(events[1]!.object.rows[0].cells[0], 'b');
  });

  it('streams PartialObjectMetadata for metadata watches (as the garbage collector asks)', async () => {
    const w = await t.watch(`${DB_PATH('tw')}?watch=1`, {
      Accept: 'application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
    });
    const events = await w.waitFor(2);
    w.stop();
    assert.equal(events[0]!.object.kind, 'PartialObjectMetadata');
    assert.equal(events[0]!.object.apiVersion, 'meta.k8s.io/v1');
    assert.equal(events[0]!.object.spec, undefined);
    assert.ok(events[0]!.object.metadata.uid);
  });

  it('sends ADDED when an object starts matching and DELETED when it stops', async () => {
    const start = (await t.request('GET', DB_PATH('sel'))).json.metadata.resourceVersion;
    const w = await t.watch(`${DB_PATH('sel')}?watch=1&labelSelector=tier%3Dgold&resourceVersion=${start}`);
    await t.request('POST', DB_PATH('sel'), { body: database('x', 'sel') });
    await t.request('PATCH', `${DB_PATH('sel')}/x`, { body: { metadata: { labels: { tier: 'gold' } } }, headers: MERGE });
    await t.request('PATCH', `${DB_PATH('sel')}/x`, { body: { spec: { replicas: 3 } }, headers: MERGE });
    await t.request('PATCH', `${DB_PATH('sel')}/x`, { body: { metadata: { labels: { tier: 'silver' } } }, headers: MERGE });
    const events = await w.waitFor(3);
    w.stop();
    assert.deepEqual(events.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
  });

  it('watches one object by name as kubectl get -w does', async () => {
    const w = await t.watch(`${DB_PATH('tw')}?watch=1&fieldSelector=metadata.name%3Da&resourceVersion=0`);
    const events = await w.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    w.stop();
    assert.deepEqual(w.events.map((e) => e.object.metadata.name), ['a']);
    assert.equal(events[0]!.type, 'ADDED');
  });

  it('watches all namespaces', async () => {
    const w = await t.watch('/apis/strongroom.dev/v1alpha1/databases?watch=1');
    const events = await w.waitFor(3);
    w.stop();
    assert.ok(new Set(events.map((e) => e.object.metadata.namespace)).size >= 2);
  });
});

describe('resourceVersion semantics', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ history: { compaction: { keepRevisions: 1, keepMs: 0, intervalMs: 50 }, watchCacheCapacity: 2 } });
  });
  after(async () => {
    await t.stop();
  });

  it('answers a watch from a compacted revision with an ERROR event carrying 410 Expired', async () => {
    for (let i = 0; i < 6; i++) await t.request('POST', DB_PATH('old'), { body: database(`o${i}`, 'old') });
    await new Promise((r) => setTimeout(r, 300));
    const w = await t.watch(`${DB_PATH('old')}?watch=1&resourceVersion=1`);
    assert.equal(w.status, 200);
    await w.ended;
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0]!.type, 'ERROR');
    assert.equal(w.events[0]!.object.code, 410);
    assert.equal(w.events[0]!.object.reason, 'Expired');
  });

  it('answers an Exact list at a compacted revision with 410', async () => {
    const res = await t.request('GET', `${DB_PATH('old')}?resourceVersion=1&resourceVersionMatch=Exact`);
    assert.equal(res.status, 410, res.text);
    assert.equal(res.json.reason, 'Expired');
  });

  it('answers a resourceVersion from the future with 504 Timeout and a ResourceVersionTooLarge cause', async () => {
    const res = await t.request('GET', `${DB_PATH('old')}?resourceVersion=999999`);
    assert.equal(res.status, 504, res.text);
    assert.equal(res.json.reason, 'Timeout');
    assert.equal(res.json.details.causes[0].reason, 'ResourceVersionTooLarge');
  });

  it('refuses invalid list option combinations', async () => {
    const cases = [
      'resourceVersionMatch=Exact',
      'resourceVersion=0&resourceVersionMatch=Exact',
      'continue=abc&resourceVersion=5',
      'watch=1&sendInitialEvents=true',
      'resourceVersionMatch=Sometimes&resourceVersion=1',
    ];
    for (const query of cases) {
      const res = await t.request('GET', `${DB_PATH('old')}?${query}`);
      assert.ok(res.status === 400 || res.status === 422, `${query}: ${res.status} ${res.text}`);
      assert.equal(res.json.kind, 'Status', query);
    }
  });

  it('answers an unknown continue token with 400', async () => {
    const res = await t.request('GET', `${DB_PATH('old')}?limit=1&continue=not-a-token`);
    assert.equal(res.status, 400, res.text);
  });
});
