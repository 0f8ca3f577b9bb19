import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backup } from '../../src/api/backup.ts';
import type { Database } from '../../src/api/database.ts';
import { loadMode, planRestore, type RestoreStepName } from '../../src/api/restore-plan.ts';
import { restoreDefinition, type Restore, type RestoreSpec } from '../../src/api/restore.ts';

const MiB = 1024 * 1024;

function restore(target: RestoreSpec['target']): Restore {
  return { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Restore', metadata: { name: 'r1', namespace: 'shop' }, spec: { databaseName: 'orders', backupName: 'b1', target } };
}

function backup(engine: 'postgres' | 'redis' | 'etcd', method: string, options: { replicas?: number; compression?: 'zstd' | 'gzip' | 'none'; sizeBytes?: number } = {}): Backup {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Backup',
    metadata: { name: 'b1', namespace: 'shop' },
    spec: { databaseName: 'orders', method: method as Backup['spec']['method'] },
    status: {
      phase: 'Completed',
      completionTime: '2025-01-01T00:00:00Z',
      engine,
      engineVersion: '1',
      sizeBytes: options.sizeBytes ?? 58 * MiB,
      sha256: 'a'.repeat(64),
      location: 'pvc://orders-backups/shop/orders/b1',
      databaseSpec: { engine, replicas: options.replicas ?? 1, backup: { compression: options.compression ?? 'zstd' } },
    },
  };
}

function database(replicas: number): Database {
  return { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: 'orders', namespace: 'shop' }, spec: { engine: 'postgres', replicas } };
}

describe('loadMode', () => {
  const cases: [string, string, 'connection' | 'volumes'][] = [
    ['postgres', 'dump', 'connection'],
    ['postgres', 'basebackup', 'volumes'],
    ['redis', 'rdb', 'volumes'],
    ['etcd', 'snapshot', 'volumes'],
  ];
  for (const [engine, method, mode] of cases) {
    it(`${engine} ${method} loads through ${mode}`, () => assert.equal(loadMode(engine, method), mode));
  }
});

describe('planRestore', () => {
  const cases: Array<{
    name: string;
    restore: Restore;
    backup: Backup;
    source?: Database;
    steps: RestoreStepName[];
    target: string;
    replaces: string[];
    downtime: number;
  }> = [
    {
      name: 'in place from a dump: loaded into the running primary',
      restore: restore({ inPlace: { safetyBackup: true } }),
      backup: backup('postgres', 'dump'),
      source: database(2),
      steps: ['SafetyBackup', 'LoadData', 'WaitReady'],
      target: 'orders',
      replaces: ['the data of Database orders, through its primary'],
      downtime: 5, // 58 MiB of zstd archive ≈ 261 MiB of data at 58 MiB/s: 4.5 s
    },
    {
      name: 'in place from a dump without a safety backup',
      restore: restore({ inPlace: { safetyBackup: false } }),
      backup: backup('postgres', 'dump'),
      source: database(1),
      steps: ['LoadData', 'WaitReady'],
      target: 'orders',
      replaces: ['the data of Database orders, through its primary'],
      downtime: 5,
    },
    {
      name: 'in place into volumes: each current member, stopped and started',
      restore: restore({ inPlace: {} }),
      backup: backup('etcd', 'snapshot', { replicas: 1, compression: 'none' }),
      source: database(3),
      steps: ['SafetyBackup', 'StopDatabase', 'LoadData', 'StartDatabase', 'WaitReady'],
      target: 'orders',
      replaces: ['the data of PersistentVolumeClaim data-orders-0', 'the data of PersistentVolumeClaim data-orders-1', 'the data of PersistentVolumeClaim data-orders-2'],
      downtime: 1,
    },
    {
      name: 'in place into volumes without a safety backup',
      restore: restore({ inPlace: { safetyBackup: false } }),
      backup: backup('redis', 'rdb', { sizeBytes: 580 * MiB, compression: 'gzip' }),
      source: database(1),
      steps: ['StopDatabase', 'LoadData', 'StartDatabase', 'WaitReady'],
      target: 'orders',
      replaces: ['the data of PersistentVolumeClaim data-orders-0'],
      downtime: 45,
    },
    {
      name: 'a new database from a dump: created Ready, then loaded',
      restore: restore({ newDatabase: { name: 'copy' } }),
      backup: backup('postgres', 'dump', { replicas: 2 }),
      steps: ['CreateDatabase', 'LoadData', 'WaitReady'],
      target: 'copy',
      replaces: ['a new Database copy'],
      downtime: 0,
    },
    {
      name: 'a new database into volumes: the members the source had at backup time',
      restore: restore({ newDatabase: { name: 'copy' } }),
      backup: backup('postgres', 'basebackup', { replicas: 2 }),
      source: database(5),
      steps: ['CreateDatabase', 'LoadData', 'StartDatabase', 'WaitReady'],
      target: 'copy',
      replaces: ['a new Database copy', 'the data of new PersistentVolumeClaim data-copy-0', 'the data of new PersistentVolumeClaim data-copy-1'],
      downtime: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRestore(c.restore, c.backup, c.source);
      assert.deepEqual(
        plan.steps.map((s) => s.name),
        c.steps,
      );
      assert.equal(plan.targetDatabase, c.target);
      assert.equal(plan.newDatabase, c.target !== 'orders');
      assert.deepEqual(plan.replaces, c.replaces);
      assert.equal(plan.expectedDowntimeSeconds, c.downtime);
      for (const step of plan.steps) assert.ok(step.description.length > 0, step.name);
    });
  }

  it('summarises the backup and records the method the backup used', () => {
    const b = backup('postgres', 'basebackup');
    b.status!.method = 'basebackup';
    delete b.spec.method;
    assert.deepEqual(planRestore(restore({ inPlace: {} }), b, database(1)).backup, {
      name: 'b1',
      sizeBytes: 58 * MiB,
      sha256: 'a'.repeat(64),
      completionTime: '2025-01-01T00:00:00Z',
      engine: 'postgres',
      engineVersion: '1',
      method: 'basebackup',
    });
  });

  it("takes the engine's default method when the backup records none", () => {
    const b = backup('postgres', 'dump');
    delete b.spec.method;
    const plan = planRestore(restore({ inPlace: {} }), b, database(1));
    assert.equal(plan.backup.method, 'dump');
    assert.deepEqual(
      plan.steps.map((s) => s.name),
      ['SafetyBackup', 'LoadData', 'WaitReady'],
    );
  });

  it('says in CreateDatabase that it waits for Ready before a dump is loaded', () => {
    const plan = planRestore(restore({ newDatabase: { name: 'copy' } }), backup('postgres', 'dump'), undefined);
    assert.match(plan.steps[0]!.description, /Ready/);
  });

  it('is valid as status.plan of a Restore', () => {
    const plan = planRestore(restore({ newDatabase: { name: 'copy' } }), backup('etcd', 'snapshot', { replicas: 3 }), undefined);
    const obj = { ...restore({ newDatabase: { name: 'copy' } }), status: { phase: 'Pending' as const, plan } };
    assert.deepEqual(restoreDefinition.validate(obj), []);
  });
});
