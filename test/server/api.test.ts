// The API over HTTPS against a started server: discovery, CRUD, concurrency, patches, apply, subresources, errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DB_PATH, database, startTestServer, type TestServer } from '../support/server.ts';

const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';
const GV = '/apis/strongroom.dev/v1alpha1';

let t: TestServer;
before(async () => {
  t = await startTestServer({ bookmarkIntervalMs: 200 });
});
after(async () => {
  await t.stop();
});

function assertStatus(res: { status: number; json: any }, code: number, reason: string) {
  assert.equal(res.status, code, JSON.stringify(res.json));
  assert.equal(res.json.kind, 'Status');
  assert.equal(res.json.apiVersion, 'v1');
  assert.equal(res.json.status, 'Failure');
  assert.equal(res.json.code, code);
  assert.equal(res.json.reason, reason);
  assert.ok(res.json.message);
}

describe('discovery', () => {
  it('serves APIResourceList without an Accept header', async () => {
    const res = await t.request('GET', GV);
    assert.equal(res.status, 200);
    assert.equal(res.json.kind, 'APIResourceList');
    const names = res.json.resources.map((r: any) => r.name);
    for (const n of ['databases', 'databases/status', 'databases/scale', 'databases/backup', 'databases/restore', 'backups', 'restores']) {
      assert.ok(names.includes(n), n);
    }
    const scale = res.json.resources.find((r: any) => r.name === 'databases/scale');
    assert.deepEqual([scale.group, scale.version, scale.kind], ['autoscaling', 'v1', 'Scale']);
  });

  it('serves aggregated discovery with an ETag and answers 304', async () => {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
    const res = await t.request('GET', '/apis', { headers: { Accept: accept } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /g=apidiscovery\.k8s\.io;v=v2;as=APIGroupDiscoveryList/);
    assert.equal(res.json.items[0].metadata.name, 'strongroom.dev');
    const etag = String(res.headers['etag']);
    const again = await t.request('GET', '/apis', { headers: { Accept: accept, 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    const legacy = await t.request('GET', '/apis');
    assert.equal(legacy.json.kind, 'APIGroupList');
    assert.equal((await t.request('GET', '/apis/strongroom.dev')).json.kind, 'APIGroup');
  });

  it('serves /version and OpenAPI', async () => {
    assert.ok((await t.request('GET', '/version')).json.gitVersion);
    const root = await t.request('GET', '/openapi/v3');
    const url = root.json.paths['apis/strongroom.dev/v1alpha1'].serverRelativeURL;
    assert.match(url, /\?hash=[0-9A-F]+$/);
    const doc = await t.request('GET', url);
    assert.equal(doc.status, 200);
    assert.ok(doc.json.components.schemas['dev.strongroom.v1alpha1.Database']);
    const stale = await t.request('GET', '/openapi/v3/apis/strongroom.dev/v1alpha1?hash=00');
    assert.equal(stale.status, 200, 'never redirects');
    assert.equal((await t.request('GET', '/openapi/v2')).json.swagger, '2.0');
  });
});

describe('authentication and health', () => {
  it('answers 401 to a request without a client certificate', async () => {
    assertStatus(await t.request('GET', DB_PATH(), { anonymous: true }), 401, 'Unauthorized');
  });
  it('serves health without authentication', async () => {
    for (const path of ['/healthz', '/livez', '/readyz', '/readyz/ping']) {
      const res = await t.request('GET', path, { anonymous: true });
      assert.equal(res.status, 200, path);
      assert.equal(res.text, 'ok');
    }
    const verbose = await t.request('GET', '/readyz?verbose', { anonymous: true });
    assert.match(verbose.text, /\[\+\]storage ok/);
    assert.match(verbose.text, /readyz check passed/);
  });
  it('serves Prometheus metrics with request counts', async () => {
    await t.request('GET', DB_PATH());
    const res = await t.request('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /apiserver_request_total\{[^}]*resource="databases"[^}]*\}/);
  });
});

describe('create, get, update', () => {
  it('creates with server-set metadata and defaults, and refuses duplicates', async () => {
    const res = await t.request('POST', DB_PATH(), { body: database('create-a') });
    assert.equal(res.status, 201, res.text);
    const meta = res.json.metadata;
    assert.match(meta.uid, /^[0-9a-f-]{36}$/);
    assert.ok(meta.creationTimestamp);
    assert.equal(meta.generation, 1);
    assert.match(meta.resourceVersion, /^\d+$/);
    assert.equal(res.json.spec.replicas, 1);
    assert.ok(res.json.spec.version);
    assert.equal(res.json.spec.deletionPolicy, 'Snapshot');
    assertStatus(await t.request('POST', DB_PATH(), { body: database('create-a') }), 409, 'AlreadyExists');
  });

  it('supports generateName', async () => {
    const body = database('');
    (body.metadata as any) = { generateName: 'gen-', namespace: 'default' };
    const res = await t.request('POST', DB_PATH(), { body });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.metadata.name, /^gen-[a-z0-9]{5}$/);
  });

  it('answers 422 with field causes for an invalid object', async () => {
    const res = await t.request('POST', DB_PATH(), { body: database('bad', 'default', { engine: 'oracle', replicas: -1 }) });
    assertStatus(res, 422, 'Invalid');
    const fields = res.json.details.causes.map((c: any) => c.field);
    assert.ok(fields.includes('spec.engine'), JSON.stringify(res.json));
    assert.ok(fields.includes('spec.replicas'), JSON.stringify(res.json));
  });

  it('answers 400 to malformed JSON and to a wrong namespace or apiVersion', async () => {
    assertStatus(await t.request('POST', DB_PATH(), { body: '{"kind": ', headers: { 'Content-Type': 'application/json' } }), 400, 'BadRequest');
    assertStatus(await t.request('POST', DB_PATH(), { body: database('x', 'other') }), 400, 'BadRequest');
    assertStatus(await t.request('POST', DB_PATH(), { body: { ...database('x'), apiVersion: 'v1' } }), 400, 'BadRequest');
  });

  it('accepts a body without Content-Type as JSON, and YAML', async () => {
    const res = await t.request('POST', DB_PATH(), { body: JSON.stringify(database('no-type')) });
    assert.equal(res.status, 201, res.text);
    const yaml = 'apiVersion: strongroom.dev/v1alpha1\nkind: Database\nmetadata:\n  name: from-yaml\nspec:\n  engine: redis\n';
    const y = await t.request('POST', DB_PATH(), { body: yaml, headers: { 'Content-Type': 'application/yaml' } });
    assert.equal(y.status, 201, y.text);
    assert.equal(y.json.spec.engine, 'redis');
  });

  it('answers 413 to a body over 3 MiB and keeps serving', async () => {
    const big = database('big');
    (big.metadata as any).annotations = { a: 'x'.repeat(3 * 1024 * 1024 + 10) };
    assertStatus(await t.request('POST', DB_PATH(), { body: big }), 413, 'RequestEntityTooLarge');
    assert.equal((await t.request('GET', DB_PATH())).status, 200);
  });

  it('updates with optimistic concurrency and bumps generation on spec changes only', async () => {
    const created = (await t.request('POST', DB_PATH(), { body: database('upd') })).json;
    const changed = structuredClone(created);
    changed.spec.replicas = 3;
    const res = await t.request('PUT', `${DB_PATH()}/upd`, { body: changed });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.metadata.generation, 2);
    assertStatus(await t.request('PUT', `${DB_PATH()}/upd`, { body: changed }), 409, 'Conflict');
    const labelled = structuredClone(res.json);
    labelled.metadata.labels = { team: 'a' };
    const res2 = await t.request('PUT', `${DB_PATH()}/upd`, { body: labelled });
    assert.equal(res2.json.metadata.generation, 2, 'metadata changes keep generation');
  });

  it('ignores status on the main resource and spec on /status', async () => {
    const created = (await t.request('POST', DB_PATH(), { body: { ...database('st'), status: { phase: 'Ready' } } })).json;
    assert.equal(created.status, undefined);
    const withStatus = structuredClone(created);
    withStatus.status = { phase: 'Provisioning', readyReplicas: 1 };
    withStatus.spec.replicas = 5;
    const res = await t.request('PUT', `${DB_PATH()}/st/status`, { body: withStatus });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status.phase, 'Provisioning');
    assert.equal(res.json.spec.replicas, 1);
    assert.equal(res.json.metadata.generation, 1);
    const main = structuredClone(res.json);
    main.status.phase = 'Failed';
    const res2 = await t.request('PUT', `${DB_PATH()}/st`, { body: main });
    assert.equal(res2.json.status.phase, 'Provisioning');
  });

  it('answers 404 as a Status for a missing object and an unknown path', async () => {
    assertStatus(await t.request('GET', `${DB_PATH()}/nope`), 404, 'NotFound');
    assertStatus(await t.request('GET', `${GV}/namespaces/default/widgets`), 404, 'NotFound');
  });
});

describe('patch', () => {
  it('applies merge and JSON patches and answers 415 to strategic merge patch', async () => {
    await t.request('POST', DB_PATH(), { body: database('p1') });
    const merge = await t.request('PATCH', `${DB_PATH()}/p1`, {
      body: { metadata: { labels: { tier: 'gold' } } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(merge.status, 200, merge.text);
    assert.equal(merge.json.metadata.labels.tier, 'gold');
    const json = await t.request('PATCH', `${DB_PATH()}/p1`, {
      body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
      headers: { 'Content-Type': 'application/json-patch+json' },
    });
    assert.equal(json.status, 200, json.text);
    assert.equal(json.json.spec.replicas, 3);
    const smp = await t.request('PATCH', `${DB_PATH()}/p1`, { body: {}, headers: { 'Content-Type': 'application/strategic-merge-patch+json' } });
    assertStatus(smp, 415, 'UnsupportedMediaType');
  });

  it('treats a resourceVersion in a merge patch as a precondition', async () => {
    await t.request('POST', DB_PATH(), { body: database('p2') });
    const res = await t.request('PATCH', `${DB_PATH()}/p2`, {
      body: { metadata: { resourceVersion: '1' }, spec: { replicas: 3 } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assertStatus(res, 409, 'Conflict');
  });

  it('warns about unknown fields, and refuses them in Strict mode', async () => {
    await t.request('POST', DB_PATH(), { body: database('p3') });
    const warn = await t.request('PATCH', `${DB_PATH()}/p3`, {
      body: { spec: { bogus: 1 } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(warn.status, 200);
    assert.match(String(warn.headers['warning']), /299 - "unknown field \\?"?spec\.bogus/);
    assert.equal(warn.json.spec.bogus, undefined);
    const strict = await t.request('PATCH', `${DB_PATH()}/p3?fieldValidation=Strict`, {
      body: { spec: { bogus: 1 } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assertStatus(strict, 400, 'BadRequest');
    assert.match(strict.json.message, /strict decoding error: unknown field "spec.bogus"/);
  });
});

describe('server-side apply', () => {
  const apply = (name: string, spec: Record<string, unknown>, manager: string, force = false) =>
    t.request('PATCH', `${DB_PATH()}/${name}?fieldManager=${manager}${force ? '&force=true' : ''}`, {
      body: JSON.stringify(database(name, 'default', spec)),
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
    });

  it('creates, records managedFields, and detects conflicts between managers', async () => {
    const first = await apply('ssa', { replicas: 3 }, 'alice');
    assert.equal(first.status, 201, first.text);
    const entry = first.json.metadata.managedFields.find((m: any) => m.manager === 'alice');
    assert.equal(entry.operation, 'Apply');
    assert.ok(entry.fieldsV1['f:spec']['f:replicas']);
    const conflict = await apply('ssa', { replicas: 5 }, 'bob');
    assertStatus(conflict, 409, 'Conflict');
    assert.equal(conflict.json.details.causes[0].reason, 'FieldManagerConflict');
    assert.equal(conflict.json.details.causes[0].field, '.spec.replicas');
    const forced = await apply('ssa', { replicas: 5 }, 'bob', true);
    assert.equal(forced.status, 200, forced.text);
    assert.equal(forced.json.spec.replicas, 5);
  });

  it('answers the warnings of a dry-run apply that creates, as the same POST with dryRun=All does', async () => {
    const spec = { backup: { schedule: '0 3 * * *' } };
    const post = await t.request('POST', `${DB_PATH()}?dryRun=All`, { body: database('ssa-dry', 'default', spec) });
    const applied = await t.request('PATCH', `${DB_PATH()}/ssa-dry?fieldManager=kubectl&dryRun=All`, {
      body: JSON.stringify(database('ssa-dry', 'default', spec)),
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
    });
    assert.equal(applied.status, 201, applied.text);
    assert.match(String(post.headers['warning']), /spec\.backup\.schedule is set without spec\.backup\.retention/);
    assert.equal(applied.headers['warning'], post.headers['warning']);
  });

  it('requires a fieldManager', async () => {
    const res = await t.request('PATCH', `${DB_PATH()}/ssa2`, {
      body: JSON.stringify(database('ssa2')),
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
    });
    assert.ok(res.status === 422 || res.status === 400, res.text);
  });
});

describe('list and watch', () => {
  before(async () => {
    for (let i = 0; i < 5; i++) {
      await t.request('POST', DB_PATH('listing'), {
        body: { ...database(`l${i}`, 'listing', { engine: i % 2 ? 'redis' : 'postgres' }), metadata: { name: `l${i}`, labels: { idx: String(i) } } },
      });
    }
  });

  it('pages with limit and continue at one resourceVersion', async () => {
    const first = await t.request('GET', `${DB_PATH('listing')}?limit=2`);
    assert.equal(first.json.items.length, 2);
    assert.ok(first.json.metadata.continue);
    assert.equal(first.json.metadata.remainingItemCount, 3);
    const second = await t.request('GET', `${DB_PATH('listing')}?limit=2&continue=${encodeURIComponent(first.json.metadata.continue)}`);
    assert.deepEqual(second.json.items.map((i: any) => i.metadata.name), ['l2', 'l3']);
    assert.equal(second.json.metadata.resourceVersion, first.json.metadata.resourceVersion);
  });

  it('filters by label and field selectors, and rejects unknown fields', async () => {
    const labels = await t.request('GET', `${DB_PATH('listing')}?labelSelector=${encodeURIComponent('idx in (1,3),idx!=3')}`);
    assert.deepEqual(labels.json.items.map((i: any) => i.metadata.name), ['l1']);
    const fields = await t.request('GET', `${GV}/databases?fieldSelector=spec.engine=redis,metadata.namespace=listing`);
    assert.deepEqual(fields.json.items.map((i: any) => i.metadata.name), ['l1', 'l3']);
    assertStatus(await t.request('GET', `${DB_PATH('listing')}?fieldSelector=spec.nope=1`), 400, 'BadRequest');
  });

  it('serves Tables and PartialObjectMetadataList', async () => {
    const table = await t.request('GET', `${DB_PATH('listing')}`, { headers: { Accept: TABLE } });
    assert.equal(table.json.kind, 'Table');
    assert.deepEqual(table.json.columnDefinitions.slice(0, 2).map((c: any) => c.name), ['Name', 'Engine']);
    assert.equal(table.json.rows[0].object.kind, 'PartialObjectMetadata');
    const meta = await t.request('GET', `${DB_PATH('listing')}`, {
      headers: { Accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json' },
    });
    assert.equal(meta.json.kind, 'PartialObjectMetadataList');
    assert.equal(meta.json.items[0].spec, undefined);
    const bad = await t.request('GET', `${DB_PATH('listing')}`, { headers: { Accept: 'application/protobuf' } });
    assertStatus(bad, 406, 'NotAcceptable');
  });

  it('watches from a resourceVersion with ADDED, MODIFIED, DELETED and bookmarks', async () => {
    const list = await t.request('GET', DB_PATH('watching'));
    const w = await t.watch(`${DB_PATH('watching')}?watch=1&allowWatchBookmarks=true&resourceVersion=${list.json.metadata.resourceVersion}`);
    assert.equal(w.status, 200);
    await t.request('POST', DB_PATH('watching'), { body: database('w1', 'watching') });
    await t.request('PATCH', `${DB_PATH('watching')}/w1`, { body: { spec: { replicas: 3 } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
    await t.request('DELETE', `${DB_PATH('watching')}/w1`);
    const events = await w.waitFor(3);
    assert.deepEqual(events.slice(0, 3).map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
    const withBookmark = await w.waitFor(4, 3000);
    assert.equal(withBookmark[3]!.type, 'BOOKMARK');
    w.stop();
  });

  it('sends initial events and the initial-events-end bookmark for watch-list', async () => {
    const w = await t.watch(`${DB_PATH('listing')}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    const events = await w.waitFor(6);
    assert.deepEqual(events.slice(0, 5).map((e) => e.type), Array(5).fill('ADDED'));
    assert.equal(events[5]!.type, 'BOOKMARK');
    assert.equal(events[5]!.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    w.stop();
  });

  it('ends a watch after timeoutSeconds', async () => {
    const w = await t.watch(`${DB_PATH('listing')}?watch=1&timeoutSeconds=1`);
    await w.ended;
    assert.equal(w.events.length, 5);
  });
});

describe('delete', () => {
  it('deletes at once without finalizers and reports the uid', async () => {
    const created = (await t.request('POST', DB_PATH(), { body: database('del1') })).json;
    const res = await t.request('DELETE', `${DB_PATH()}/del1`);
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'Success');
    assert.equal(res.json.details.uid, created.metadata.uid);
    assert.equal((await t.request('GET', `${DB_PATH()}/del1`)).status, 404);
  });

  it('keeps an object with finalizers until they are removed', async () => {
    const body = database('del2');
    (body.metadata as any).finalizers = ['example.com/hold'];
    await t.request('POST', DB_PATH(), { body });
    const res = await t.request('DELETE', `${DB_PATH()}/del2`);
    assert.equal(res.status, 200);
    assert.ok(res.json.metadata.deletionTimestamp);
    const patched = await t.request('PATCH', `${DB_PATH()}/del2`, {
      body: { metadata: { finalizers: null } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await t.request('GET', `${DB_PATH()}/del2`)).status, 404);
  });

  it('honours a uid precondition and deletecollection with a selector', async () => {
    await t.request('POST', DB_PATH('dc'), { body: { ...database('a', 'dc'), metadata: { name: 'a', labels: { x: '1' } } } });
    await t.request('POST', DB_PATH('dc'), { body: { ...database('b', 'dc'), metadata: { name: 'b' } } });
    const pre = await t.request('DELETE', `${DB_PATH('dc')}/a`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'wrong' } } });
    assertStatus(pre, 409, 'Conflict');
    const res = await t.request('DELETE', `${DB_PATH('dc')}?labelSelector=x%3D1`);
    assert.equal(res.status, 200, res.text);
    const left = await t.request('GET', DB_PATH('dc'));
    assert.deepEqual(left.json.items.map((i: any) => i.metadata.name), ['b']);
  });

  it('creates nothing with dryRun=All', async () => {
    const res = await t.request('POST', `${DB_PATH()}?dryRun=All`, { body: database('dry') });
    assert.equal(res.status, 201);
    assert.equal((await t.request('GET', `${DB_PATH()}/dry`)).status, 404);
  });
});

describe('subresources', () => {
  it('reads and writes scale', async () => {
    await t.request('POST', DB_PATH(), { body: database('sc') });
    const scale = await t.request('GET', `${DB_PATH()}/sc/scale`);
    assert.equal(scale.json.kind, 'Scale');
    assert.equal(scale.json.apiVersion, 'autoscaling/v1');
    assert.equal(scale.json.spec.replicas, 1);
    const patched = await t.request('PATCH', `${DB_PATH()}/sc/scale`, {
      body: { spec: { replicas: 3 } },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.spec.replicas, 3);
    const db = await t.request('GET', `${DB_PATH()}/sc`);
    assert.equal(db.json.spec.replicas, 3);
    const stale = { ...scale.json, spec: { replicas: 2 } };
    assertStatus(await t.request('PUT', `${DB_PATH()}/sc/scale`, { body: JSON.stringify(stale) }), 409, 'Conflict');
  });

  it('creates a Backup through databases/backup, with or without a body', async () => {
    await t.request('POST', DB_PATH(), { body: database('bk') });
    const res = await t.request('POST', `${DB_PATH()}/bk/backup`);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.kind, 'Backup');
    assert.equal(res.json.spec.databaseName, 'bk');
    const list = await t.request('GET', `${GV}/namespaces/default/backups`);
    assert.ok(list.json.items.some((b: any) => b.metadata.name === res.json.metadata.name));
    const dry = await t.request('POST', `${DB_PATH()}/bk/backup?dryRun=All`, { body: JSON.stringify({ spec: { hold: true } }) });
    assert.equal(dry.status, 201);
    const after = await t.request('GET', `${GV}/namespaces/default/backups`);
    assert.equal(after.json.items.length, list.json.items.length);
    assertStatus(await t.request('POST', `${DB_PATH()}/missing/backup`), 404, 'NotFound');
    assertStatus(await t.request('GET', `${DB_PATH()}/bk/backup`), 405, 'MethodNotAllowed');
  });

  it('requires backupName for databases/restore', async () => {
    await t.request('POST', DB_PATH(), { body: database('rs') });
    const missing = await t.request('POST', `${DB_PATH()}/rs/restore`, { body: JSON.stringify({ spec: {} }) });
    assert.ok(missing.status === 422 || missing.status === 400, missing.text);
    // A Restore names a Completed backup of its database (see test/server/restore.test.ts for the admission checks).
    await t.request('POST', `${GV}/namespaces/default/backups`, { body: { metadata: { name: 'b1' }, spec: { databaseName: 'rs' } } });
    const status = { phase: 'Completed', completionTime: '2025-01-01T00:00:00Z', location: 'pvc://rs-backups/b1', sha256: 'a'.repeat(64), sizeBytes: 1 };
    const completed = await t.request('PATCH', `${GV}/namespaces/default/backups/b1/status`, {
      body: JSON.stringify({ status }),
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    assert.equal(completed.status, 200, completed.text);
    const res = await t.request('POST', `${DB_PATH()}/rs/restore`, { body: JSON.stringify({ spec: { backupName: 'b1' } }) });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.kind, 'Restore');
    assert.equal(res.json.spec.databaseName, 'rs');
  });
});
