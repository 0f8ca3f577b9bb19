import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupDefinition as def } from '../../src/api/backup.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { applySchemaDefaults } from '../../src/api/schema.ts';

function backup(spec: Record<string, unknown> = { databaseName: 'orders' }, status?: Record<string, unknown>): KubeObject {
  const obj: KubeObject = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Backup', metadata: { name: 'orders-x1', namespace: 'shop' }, spec };
  if (status) obj.status = status;
  applySchemaDefaults(def.schema, obj);
  def.applyDefaults(obj);
  return obj;
}

const COMPLETED = {
  phase: 'Completed',
  startTime: '2025-01-01T03:00:00Z',
  completionTime: '2025-01-01T03:01:00Z',
  engine: 'postgres',
  engineVersion: '17.2',
  sizeBytes: 1536,
  sha256: 'a'.repeat(64),
  location: 'pvc://orders-backups/orders-x1.dump.zst',
  progress: { bytesDone: 4096, bytesTotal: 4096 },
  jobName: 'orders-x1',
};

describe('Backup defaulting and validation', () => {
  it('defaults trigger and hold, not the method (the engine decides)', () => {
    assert.deepEqual(backup().spec, { databaseName: 'orders', trigger: 'Manual', hold: false });
  });

  it('accepts a completed backup', () => {
    assert.deepEqual(def.validate(backup({ databaseName: 'orders', method: 'dump' }, COMPLETED)), []);
  });

  const bad: [string, KubeObject, string, string][] = [
    ['no database', backup({}), 'FieldValueRequired', 'spec.databaseName'],
    ['a database name that is no DNS label', backup({ databaseName: 'Orders' }), 'FieldValueInvalid', 'spec.databaseName'],
    ['an unknown method', backup({ databaseName: 'orders', method: 'tar' }), 'FieldValueNotSupported', 'spec.method'],
    ['an unknown trigger', backup({ databaseName: 'orders', trigger: 'Cron' }), 'FieldValueNotSupported', 'spec.trigger'],
    ['an unknown phase', backup(undefined, { phase: 'Done' }), 'FieldValueNotSupported', 'status.phase'],
    ['a malformed checksum', backup(undefined, { sha256: 'xyz' }), 'FieldValueInvalid', 'status.sha256'],
    ['a negative size', backup(undefined, { sizeBytes: -1 }), 'FieldValueInvalid', 'status.sizeBytes'],
    ['a Completed backup without checksum', backup(undefined, { ...COMPLETED, sha256: undefined }), 'FieldValueRequired', 'status.sha256'],
    ['a Completed backup without location', backup(undefined, { ...COMPLETED, location: undefined }), 'FieldValueRequired', 'status.location'],
  ];
  for (const [name, obj, type, field] of bad) {
    it(`refuses ${name}`, () => {
      const errors = def.validate(JSON.parse(JSON.stringify(obj)));
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.type, type);
      assert.equal(errors[0]!.field, field);
    });
  }
});

describe('Backup updates', () => {
  const old = backup({ databaseName: 'orders', method: 'dump' });
  const update = (patch: (spec: any) => void, from = old) => {
    const next = structuredClone(from);
    patch(next.spec);
    return def.validateUpdate(next, from);
  };

  it('allows changing hold', () => assert.deepEqual(update((s) => (s.hold = true)), []));
  it('allows recording the default method once', () => {
    assert.deepEqual(update((s) => (s.method = 'dump'), backup()), []);
  });
  for (const [field, value] of [['databaseName', 'users'], ['method', 'basebackup'], ['trigger', 'Schedule']] as const) {
    it(`refuses changing ${field}`, () => {
      assert.deepEqual(update((s) => (s[field] = value)), [
        { type: 'FieldValueInvalid', field: `spec.${field}`, message: `Invalid value: "${value}": field is immutable` },
      ]);
    });
  }
  it('refuses removing the method', () => {
    assert.equal(update((s) => delete s.method)[0]?.field, 'spec.method');
  });
});

describe('Backup printing and selection', () => {
  const cell = (name: string, obj: KubeObject) => def.printerColumns.find((c) => c.name === name)!.cell!(obj);

  it('has DATABASE PHASE SIZE PROGRESS', () => {
    assert.deepEqual(def.printerColumns.map((c) => c.name), ['Database', 'Phase', 'Size', 'Progress']);
  });

  it('prints sizes for people', () => {
    for (const [bytes, text] of [[0, '0B'], [1023, '1023B'], [1536, '1.5KiB'], [5 * 2 ** 20, '5MiB'], [12.34 * 2 ** 30, '12.3GiB'], [2 ** 50 * 3, '3PiB']] as const) {
      assert.equal(cell('Size', backup(undefined, { sizeBytes: bytes })), text);
    }
    assert.equal(cell('Size', backup()), undefined);
  });

  it('prints progress as a percentage', () => {
    assert.equal(cell('Progress', backup(undefined, { phase: 'Running', progress: { bytesDone: 42, bytesTotal: 100 } })), '42%');
    assert.equal(cell('Progress', backup(undefined, { phase: 'Running', progress: { bytesDone: 42 } })), undefined);
    assert.equal(cell('Progress', backup(undefined, COMPLETED)), '100%');
    assert.equal(cell('Progress', backup()), undefined);
  });

  it('selects by database and phase', () => {
    const obj = backup(undefined, { phase: 'Failed' });
    assert.equal(def.selectableFields['spec.databaseName']!(obj), 'orders');
    assert.equal(def.selectableFields['status.phase']!(obj), 'Failed');
  });
});
