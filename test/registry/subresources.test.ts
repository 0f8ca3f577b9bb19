// Writes through /scale and /status are recorded in managedFields under their subresource, as kube-apiserver records
// them for a CRD (`kubectl-scale/Update/scale`), so their fields stay apart from the main resource's writers and a
// conflict says which endpoint owns the field.
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

const merge = { 'Content-Type': 'application/merge-patch+json' };

function apply(name: string, replicas: number) {
  return t.request('PATCH', `${DB_PATH()}/${name}?fieldManager=gitops`, {
    body: JSON.stringify(database(name, 'default', { engine: 'postgres', replicas })),
    headers: { 'Content-Type': 'application/apply-patch+yaml' },
  });
}

const entry = (obj: any, manager: string) => obj.metadata.managedFields.filter((m: any) => m.manager === manager);

describe('managedFields of subresource writes', () => {
  it('/scale: an Update entry with subresource scale owning the replicas, and a conflict that names it', async () => {
    assert.equal((await apply('scaled', 1)).status, 201);
    const scaled = await t.request('PATCH', `${DB_PATH()}/scaled/scale?fieldManager=kubectl-scale`, { body: { spec: { replicas: 3 } }, headers: merge });
    assert.equal(scaled.status, 200, scaled.text);
    const db = (await t.request('GET', `${DB_PATH()}/scaled`)).json;
    assert.deepEqual(
      entry(db, 'kubectl-scale').map((m: any) => [m.operation, m.subresource, m.apiVersion, m.fieldsV1]),
      [['Update', 'scale', 'strongroom.dev/v1alpha1', { 'f:spec': { 'f:replicas': {} } }]],
    );
    assert.equal(entry(db, 'gitops')[0].fieldsV1['f:spec']['f:replicas'], undefined, 'the applier no longer owns replicas');

    const conflict = await apply('scaled', 1);
    assert.equal(conflict.status, 409, conflict.text);
    assert.equal(
      conflict.json.message,
      'Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource "scale" using strongroom.dev/v1alpha1: .spec.replicas',
    );
    assert.deepEqual(conflict.json.details.causes, [
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-scale" with subresource "scale" using strongroom.dev/v1alpha1', field: '.spec.replicas' },
    ]);
  });

  it('/scale by PUT too', async () => {
    assert.equal((await apply('put-scaled', 1)).status, 201);
    const scale = (await t.request('GET', `${DB_PATH()}/put-scaled/scale`)).json;
    const res = await t.request('PUT', `${DB_PATH()}/put-scaled/scale?fieldManager=hpa`, { body: { ...scale, spec: { replicas: 2 } } });
    assert.equal(res.status, 200, res.text);
    const db = (await t.request('GET', `${DB_PATH()}/put-scaled`)).json;
    assert.deepEqual(entry(db, 'hpa').map((m: any) => m.subresource), ['scale']);
  });

  it('/status: an Update entry with subresource status owning status, apart from the same manager on the resource', async () => {
    assert.equal((await apply('statused', 1)).status, 201);
    const status = await t.request('PATCH', `${DB_PATH()}/statused/status?fieldManager=ctrl`, { body: { status: { phase: 'Provisioning' } }, headers: merge });
    assert.equal(status.status, 200, status.text);
    const labelled = await t.request('PATCH', `${DB_PATH()}/statused?fieldManager=ctrl`, { body: { metadata: { labels: { a: 'b' } } }, headers: merge });
    assert.equal(labelled.status, 200, labelled.text);
    const entries = entry(labelled.json, 'ctrl').map((m: any) => [m.subresource ?? '', Object.keys(m.fieldsV1)]);
    assert.deepEqual(entries.sort(), [
      ['', ['f:metadata']],
      ['status', ['f:status']],
    ]);
  });
});
