// Restores over HTTPS: the dry-run plan of databases/restore, and admission against the objects a Restore names.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DB_PATH, database, startTestServer, type TestServer } from '../support/server.ts';

const NS = '/apis/strongroom.dev/v1alpha1/namespaces/default';

let t: TestServer;
before(async () => {
  t = await startTestServer();
  for (const name of ['orders', 'taken']) assert.equal((await t.request('POST', DB_PATH(), { body: database(name, 'default', { replicas: 2 }) })).status, 201);
  await backup('orders-done', 'orders', 'Completed');
  await backup('orders-running', 'orders', 'Running');
  await backup('taken-done', 'taken', 'Completed');
  // The final backup of a database that is gone: what deletionPolicy Snapshot leaves.
  await backup('gone-done', 'gone', 'Completed');
});
after(async () => {
  await t.stop();
});

/** A Backup of `databaseName`, its status written as the agent would. */
async function backup(name: string, databaseName: string, phase: 'Completed' | 'Running') {
  const created = await t.request('POST', `${NS}/backups`, { body: { metadata: { name }, spec: { databaseName, method: 'dump' } } });
  assert.equal(created.status, 201, created.text);
  const completed = {
    completionTime: '2025-01-01T00:00:00Z',
    location: `pvc://${databaseName}-backups/default/${databaseName}/${name}`,
    sha256: 'a'.repeat(64),
    sizeBytes: 58 * 1024 * 1024,
  };
  const status = { phase, engine: 'postgres', engineVersion: '17.2', method: 'dump', databaseSpec: { engine: 'postgres', replicas: 2 }, ...(phase === 'Completed' ? completed : {}) };
  const patched = await t.request('PATCH', `${NS}/backups/${name}/status`, {
    body: JSON.stringify({ status }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  assert.equal(patched.status, 200, patched.text);
}

function restore(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Restore', metadata: { name }, spec };
}

async function restoreNames(): Promise<string[]> {
  return (await t.request('GET', `${NS}/restores`)).json.items.map((r: any) => r.metadata.name);
}

describe('databases/restore with dryRun=All', () => {
  it('answers the Restore with its plan, Pending, and creates nothing', async () => {
    const before = await restoreNames();
    const res = await t.request('POST', `${DB_PATH()}/orders/restore?dryRun=All`, {
      body: { metadata: { name: 'dry' }, spec: { backupName: 'orders-done' } },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.kind, 'Restore');
    const { phase, steps, plan } = res.json.status;
    assert.equal(phase, 'Pending');
    assert.deepEqual(
      steps.map((s: any) => [s.name, s.phase]),
      [
        ['SafetyBackup', 'Pending'],
        ['LoadData', 'Pending'],
        ['WaitReady', 'Pending'],
      ],
    );
    assert.deepEqual(
      plan.steps.map((s: any) => s.name),
      ['SafetyBackup', 'LoadData', 'WaitReady'],
    );
    assert.equal(plan.targetDatabase, 'orders');
    assert.equal(plan.newDatabase, false);
    assert.equal(plan.backup.name, 'orders-done');
    assert.equal(plan.backup.sha256, 'a'.repeat(64));
    assert.equal(plan.expectedDowntimeSeconds, 5);
    assert.deepEqual(plan.replaces, ['the data of Database orders, through its primary']);
    assert.deepEqual(await restoreNames(), before);
    assert.equal((await t.request('GET', `${NS}/restores/dry`)).status, 404);
  });

  it('plans a new database without downtime', async () => {
    const res = await t.request('POST', `${DB_PATH()}/orders/restore?dryRun=All`, {
      body: { spec: { backupName: 'orders-done', target: { newDatabase: { name: 'orders-copy' } } } },
    });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(
      res.json.status.plan.steps.map((s: any) => s.name),
      ['CreateDatabase', 'LoadData', 'WaitReady'],
    );
    assert.equal(res.json.status.plan.expectedDowntimeSeconds, 0);
    assert.equal((await t.request('GET', `${DB_PATH()}/orders-copy`)).status, 404);
  });

  it('answers a real create as stored, its status left to the controller', async () => {
    const res = await t.request('POST', `${DB_PATH()}/orders/restore`, { body: { metadata: { name: 'real' }, spec: { backupName: 'orders-done' } } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.status, undefined);
    assert.ok((await restoreNames()).includes('real'));
  });
});

describe('Restore admission', () => {
  const refused: Array<{ name: string; spec: Record<string, unknown>; type: string; field: string; message?: RegExp }> = [
    { name: 'a missing backup', spec: { databaseName: 'orders', backupName: 'nope' }, type: 'FieldValueNotFound', field: 'spec.backupName' },
    {
      name: 'a backup of another database',
      spec: { databaseName: 'orders', backupName: 'taken-done' },
      type: 'FieldValueInvalid',
      field: 'spec.backupName',
      message: /must be a backup of spec\.databaseName/,
    },
    {
      name: 'a backup that is not Completed',
      spec: { databaseName: 'orders', backupName: 'orders-running' },
      type: 'FieldValueInvalid',
      field: 'spec.backupName',
      message: /Running/,
    },
    {
      name: 'a new database that exists',
      spec: { databaseName: 'orders', backupName: 'orders-done', target: { newDatabase: { name: 'taken' } } },
      type: 'FieldValueDuplicate',
      field: 'spec.target.newDatabase.name',
    },
    {
      name: 'in place into a database that is gone',
      spec: { databaseName: 'gone', backupName: 'gone-done', target: { inPlace: {} } },
      type: 'FieldValueNotFound',
      field: 'spec.databaseName',
    },
  ];
  for (const c of refused) {
    for (const dryRun of [false, true]) {
      it(`refuses ${c.name}${dryRun ? ' on a dry run' : ''}`, async () => {
        const res = await t.request('POST', `${NS}/restores${dryRun ? '?dryRun=All' : ''}`, { body: restore('refused', c.spec) });
        assert.equal(res.status, 422, res.text);
        assert.equal(res.json.reason, 'Invalid');
        assert.deepEqual(
          res.json.details.causes.map((cause: any) => [cause.reason, cause.field]),
          [[c.type, c.field]],
        );
        if (c.message) assert.match(res.json.details.causes[0].message, c.message);
        assert.ok(!(await restoreNames()).includes('refused'));
      });
    }
  }

  it('refuses through databases/restore too', async () => {
    const res = await t.request('POST', `${DB_PATH()}/orders/restore`, { body: { spec: { backupName: 'orders-running' } } });
    assert.equal(res.status, 422, res.text);
    assert.deepEqual(res.json.details.causes.map((cause: any) => cause.field), ['spec.backupName']);
  });

  it("restores a deleted database's final backup into a new Database", async () => {
    const res = await t.request('POST', `${NS}/restores`, {
      body: restore('revive', { databaseName: 'gone', backupName: 'gone-done', target: { newDatabase: { name: 'revived' } } }),
    });
    assert.equal(res.status, 201, res.text);
  });
});
