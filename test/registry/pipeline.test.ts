// Every way of writing goes through the one pipeline: the same warnings in the same order, the same validation, and
// admission told the same things — over HTTPS, with two admission plugins of the test's own in the chain.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { forbidden } from '../../src/api/errors.ts';
import type { AdmissionAttributes, MutatingAdmissionPlugin, ValidatingAdmissionPlugin } from '../../src/admission/interface.ts';
import { DB_PATH, database, startTestServer, type Response, type TestServer } from '../support/server.ts';

const NS = '/apis/strongroom.dev/v1alpha1/namespaces/default';
const SCHEDULE_WARNING = 'spec.backup.schedule is set without spec.backup.retention: scheduled backups are kept until deleted';
const UNKNOWN_FIELD = 'unknown field "spec.bogus"';
/** A spec the Database definition warns about. */
const WARNED = { backup: { schedule: '0 3 * * *' } };

const seen: AdmissionAttributes[] = [];

/** Labels every Database it is shown, and says so. */
const labeller: MutatingAdmissionPlugin = {
  name: 'TestLabeller',
  handles: (a) => (a.operation === 'CREATE' || a.operation === 'UPDATE') && a.kind.kind === 'Database',
  async admit(a) {
    const object = structuredClone(a.object!);
    object.metadata.labels = { ...object.metadata.labels, 'admitted-by': 'labeller' };
    return { object, warnings: ['mutated'] };
  },
};

/** Records what it is asked, warns with it, and refuses objects labelled deny=yes. */
const recorder: ValidatingAdmissionPlugin = {
  name: 'TestRecorder',
  handles: () => true,
  async validate(a) {
    seen.push(structuredClone(a));
    if (a.object?.metadata.labels?.['deny'] === 'yes') throw forbidden(a.resource, a.name, `${a.name} is refused by TestRecorder`);
    return { warnings: [`seen ${a.operation} ${a.resource.resource}/${a.subresource}`] };
  },
};

let t: TestServer;
before(async () => {
  t = await startTestServer({ admission: { mutating: [labeller], validating: [recorder] } });
});
after(async () => {
  await t.stop();
});
beforeEach(() => {
  seen.length = 0;
});

/** The Warning headers' texts, in the order sent. */
function warnings(res: Response): string[] {
  const header = [res.headers['warning'] ?? []].flat().join(', ');
  return [...header.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
}

const merge = { 'Content-Type': 'application/merge-patch+json' };
const jsonPatch = { 'Content-Type': 'application/json-patch+json' };
const applyPatch = { 'Content-Type': 'application/apply-patch+yaml' };

function apply(name: string, spec: Record<string, unknown>, query = '') {
  return t.request('PATCH', `${DB_PATH()}/${name}?fieldManager=tester${query}`, { body: JSON.stringify(database(name, 'default', spec)), headers: applyPatch });
}

async function created(name: string): Promise<any> {
  const res = await t.request('POST', DB_PATH(), { body: database(name) });
  assert.equal(res.status, 201, res.text);
  seen.length = 0;
  return res.json;
}

const createPaths: Array<{ name: string; write: (name: string, spec: Record<string, unknown>) => Promise<Response> }> = [
  { name: 'POST', write: (name, spec) => t.request('POST', DB_PATH(), { body: database(name, 'default', spec) }) },
  { name: 'POST with dryRun=All', write: (name, spec) => t.request('POST', `${DB_PATH()}?dryRun=All`, { body: database(name, 'default', spec) }) },
  { name: 'server-side apply that creates', write: (name, spec) => apply(name, spec) },
  { name: 'server-side apply that creates, with dryRun=All', write: (name, spec) => apply(name, spec, '&dryRun=All') },
];

const updatePaths: Array<{ name: string; write: (name: string, spec: Record<string, unknown>) => Promise<Response> }> = [
  {
    name: 'PUT',
    write: async (name, spec) => {
      const current = (await t.request('GET', `${DB_PATH()}/${name}`)).json;
      return t.request('PUT', `${DB_PATH()}/${name}`, { body: { ...current, spec: { ...current.spec, ...spec } } });
    },
  },
  { name: 'merge patch', write: (name, spec) => t.request('PATCH', `${DB_PATH()}/${name}`, { body: { spec }, headers: merge }) },
  {
    name: 'JSON patch',
    write: (name, spec) =>
      t.request('PATCH', `${DB_PATH()}/${name}`, { body: Object.entries(spec).map(([k, value]) => ({ op: 'add', path: `/spec/${k}`, value })), headers: jsonPatch }),
  },
  // Forced: the fields changed belong to the POST that created the object.
  { name: 'server-side apply', write: (name, spec) => apply(name, spec, '&force=true') },
  { name: 'server-side apply with dryRun=All', write: (name, spec) => apply(name, spec, '&force=true&dryRun=All') },
];

describe('warnings', () => {
  for (const path of createPaths) {
    it(`are the same for a ${path.name}: decoding, mutating admission, the resource, validating admission`, async () => {
      const name = `warn-${createPaths.indexOf(path)}`;
      const res = await path.write(name, { ...WARNED, bogus: 1 });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(warnings(res), [UNKNOWN_FIELD, 'mutated', SCHEDULE_WARNING, 'seen CREATE databases/']);
      assert.equal(res.json.metadata.labels['admitted-by'], 'labeller');
    });
  }
  for (const path of updatePaths) {
    it(`are the same for a ${path.name}`, async () => {
      const name = `warn-update-${updatePaths.indexOf(path)}`;
      await created(name);
      const res = await path.write(name, { ...WARNED, bogus: 1 });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(warnings(res), [UNKNOWN_FIELD, 'mutated', SCHEDULE_WARNING, 'seen UPDATE databases/']);
      assert.equal(res.json.metadata.labels['admitted-by'], 'labeller');
    });
  }
});

describe('validation', () => {
  const INVALID = { engine: 'oracle', replicas: -1 };
  const causes = (res: Response) => res.json.details.causes.map((c: any) => [c.reason, c.field]);

  it('answers the same 422 causes, in the same order, on every create path, before validating admission', async () => {
    const answers = [];
    for (const path of createPaths) {
      const res = await path.write('invalid', INVALID);
      assert.equal(res.status, 422, `${path.name}: ${res.text}`);
      answers.push(causes(res));
    }
    assert.ok(answers[0].length >= 2, JSON.stringify(answers[0]));
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.deepEqual(seen, [], 'validating admission sees only valid objects');
    assert.equal((await t.request('GET', `${DB_PATH()}/invalid`)).status, 404);
  });

  it('answers the same 422 causes, in the same order, on every update path', async () => {
    await created('invalid-update');
    const answers = [];
    for (const path of updatePaths) {
      const res = await path.write('invalid-update', INVALID);
      assert.equal(res.status, 422, `${path.name}: ${res.text}`);
      answers.push(causes(res));
    }
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.deepEqual(seen, []);
  });
});

describe('admission attributes', () => {
  it('a create: the defaulted, mutated object with its system fields, CreateOptions and the user', async () => {
    const res = await t.request('POST', `${DB_PATH()}?dryRun=All&fieldManager=me`, { body: database('attrs') });
    assert.equal(res.status, 201, res.text);
    const [a] = seen;
    assert.equal(seen.length, 1);
    assert.deepEqual(
      [a!.operation, a!.resource, a!.subresource, a!.kind, a!.namespace, a!.name, a!.dryRun],
      ['CREATE', { group: 'strongroom.dev', version: 'v1alpha1', resource: 'databases' }, '', { group: 'strongroom.dev', version: 'v1alpha1', kind: 'Database' }, 'default', 'attrs', true],
    );
    assert.equal(a!.object!.spec.deletionPolicy, 'Snapshot', 'defaulted');
    assert.equal(a!.object!.metadata.labels!['admitted-by'], 'labeller');
    assert.match(a!.object!.metadata.uid!, /^[0-9a-f-]{36}$/);
    assert.equal(a!.oldObject, undefined);
    assert.deepEqual(a!.options, { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', dryRun: ['All'], fieldManager: 'me', fieldValidation: 'Warn' });
    assert.ok(a!.userInfo.groups.includes('system:masters'), JSON.stringify(a!.userInfo));
  });

  it('/status: an UPDATE of the status subresource with the old object', async () => {
    await created('attrs-status');
    const res = await t.request('PATCH', `${DB_PATH()}/attrs-status/status`, { body: { status: { phase: 'Provisioning' } }, headers: merge });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(warnings(res), ['mutated', 'seen UPDATE databases/status'], 'no spec warnings on a status write');
    const [a] = seen;
    assert.deepEqual([a!.operation, a!.subresource, a!.kind.kind, a!.name], ['UPDATE', 'status', 'Database', 'attrs-status']);
    assert.equal(a!.object!.status.phase, 'Provisioning');
    assert.equal(a!.oldObject!.status, undefined);
    assert.equal(a!.options!.kind, 'UpdateOptions');
  });

  it('/scale: an UPDATE of the scale subresource that shows autoscaling/v1 Scale objects', async () => {
    await created('attrs-scale');
    const res = await t.request('PATCH', `${DB_PATH()}/attrs-scale/scale`, { body: { spec: { replicas: 3 } }, headers: merge });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(warnings(res), ['seen UPDATE databases/scale']);
    const [a] = seen;
    assert.deepEqual([a!.operation, a!.subresource, a!.kind], ['UPDATE', 'scale', { group: 'autoscaling', version: 'v1', kind: 'Scale' }]);
    assert.deepEqual([a!.object!.kind, a!.object!.spec.replicas, a!.oldObject!.spec.replicas], ['Scale', 3, 1]);
  });

  it('databases/backup: a CONNECT of the action with its body, then the CREATE of the Backup', async () => {
    await created('attrs-action');
    const res = await t.request('POST', `${DB_PATH()}/attrs-action/backup`, { body: { spec: { hold: true } } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(
      seen.map((a) => [a.operation, a.resource.resource, a.subresource, a.kind.kind, a.name]),
      [
        ['CONNECT', 'databases', 'backup', 'Backup', 'attrs-action'],
        ['CREATE', 'backups', '', 'Backup', res.json.metadata.name],
      ],
    );
    assert.equal(seen[0]!.object!.spec.hold, true);
    assert.deepEqual(warnings(res), ['seen CONNECT databases/backup', 'seen CREATE backups/']);
  });

  it('a DELETE: the object as stored and DeleteOptions', async () => {
    const db = await created('attrs-delete');
    const res = await t.request('DELETE', `${DB_PATH()}/attrs-delete`, {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground', dryRun: ['All'] },
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(warnings(res), ['seen DELETE databases/']);
    const [a] = seen;
    assert.deepEqual([a!.operation, a!.name, a!.object, a!.oldObject!.metadata.uid, a!.dryRun], ['DELETE', 'attrs-delete', undefined, db.metadata.uid, true]);
    assert.deepEqual(a!.options, { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Foreground', dryRun: ['All'] });
  });

  it('a refusal reaches the client as the plugin threw it, and nothing is written, on every path', async () => {
    const denied = { 'deny': 'yes' };
    const post = await t.request('POST', DB_PATH(), { body: { ...database('denied'), metadata: { name: 'denied', labels: denied } } });
    assert.equal(post.status, 403, post.text);
    assert.equal(post.json.message, 'denied is refused by TestRecorder');
    const applied = await t.request('PATCH', `${DB_PATH()}/denied?fieldManager=tester`, {
      body: JSON.stringify({ ...database('denied'), metadata: { name: 'denied', labels: denied } }),
      headers: applyPatch,
    });
    assert.equal(applied.status, 403, applied.text);
    assert.equal((await t.request('GET', `${DB_PATH()}/denied`)).status, 404);
    const db = await created('denied-update');
    const patched = await t.request('PATCH', `${DB_PATH()}/denied-update`, { body: { metadata: { labels: denied } }, headers: merge });
    assert.equal(patched.status, 403, patched.text);
    const stored = (await t.request('GET', `${DB_PATH()}/denied-update`)).json;
    assert.equal(stored.metadata.resourceVersion, db.metadata.resourceVersion);
  });
});

describe('object references on update', () => {
  it('a Restore whose backup is gone still takes label and finalizer changes', async () => {
    assert.equal((await t.request('POST', `${NS}/backups`, { body: { metadata: { name: 'ref-b' }, spec: { databaseName: 'ref-db' } } })).status, 201);
    const status = { phase: 'Completed', completionTime: '2025-01-01T00:00:00Z', location: 'pvc://x/ref-b', sha256: 'a'.repeat(64), sizeBytes: 1 };
    assert.equal((await t.request('PATCH', `${NS}/backups/ref-b/status`, { body: { status }, headers: merge })).status, 200);
    const restore = { metadata: { name: 'ref-r' }, spec: { databaseName: 'ref-db', backupName: 'ref-b', target: { newDatabase: { name: 'ref-new' } } } };
    const res = await t.request('POST', `${NS}/restores`, { body: restore });
    assert.equal(res.status, 201, res.text);
    assert.equal((await t.request('DELETE', `${NS}/backups/ref-b`)).status, 200);
    const labelled = await t.request('PATCH', `${NS}/restores/ref-r`, { body: { metadata: { labels: { done: 'yes' } } }, headers: merge });
    assert.equal(labelled.status, 200, labelled.text);
    assert.equal((await t.request('POST', `${NS}/restores`, { body: { ...restore, metadata: { name: 'ref-r2' } } })).status, 422, 'a new Restore is still refused');
  });
});
