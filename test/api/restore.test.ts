import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/meta.ts';
import { restoreDefinition as def } from '../../src/api/restore.ts';
import { applySchemaDefaults } from '../../src/api/schema.ts';

function restore(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  const obj: KubeObject = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Restore', metadata: { name: 'r1', namespace: 'shop' }, spec };
  if (status) obj.status = status;
  applySchemaDefaults(def.schema, obj);
  def.applyDefaults(obj);
  return obj;
}

const SPEC = { databaseName: 'orders', backupName: 'orders-x1' };

describe('Restore defaulting and validation', () => {
  it('restores in place with a safety backup by default', () => {
    assert.deepEqual(restore({ ...SPEC }).spec, { ...SPEC, target: { inPlace: { safetyBackup: true } } });
  });

  it('does not add inPlace to a newDatabase target', () => {
    assert.deepEqual(restore({ ...SPEC, target: { newDatabase: { name: 'orders-copy' } } }).spec.target, { newDatabase: { name: 'orders-copy' } });
  });

  it('accepts a running restore with steps', () => {
    const status = {
      phase: 'Running',
      safetyBackupName: 'orders-s1',
      startTime: '2025-01-01T00:00:00Z',
      steps: [
        { name: 'SafetyBackup', phase: 'Completed', startTime: '2025-01-01T00:00:00Z', completionTime: '2025-01-01T00:01:00Z' },
        { name: 'LoadData', phase: 'Running', message: 'loading' },
      ],
    };
    assert.deepEqual(def.validate(restore({ ...SPEC }, status)), []);
  });

  const bad: [string, KubeObject, string, string][] = [
    ['no backup', restore({ databaseName: 'orders' }), 'FieldValueRequired', 'spec.backupName'],
    ['both targets', restore({ ...SPEC, target: { inPlace: {}, newDatabase: { name: 'x' } } }), 'FieldValueForbidden', 'spec.target.newDatabase'],
    ['no target', restore({ ...SPEC, target: {} }), 'FieldValueRequired', 'spec.target'],
    ['a new database named like the source', restore({ ...SPEC, target: { newDatabase: { name: 'orders' } } }), 'FieldValueInvalid', 'spec.target.newDatabase.name'],
    ['a new database without name', restore({ ...SPEC, target: { newDatabase: {} } }), 'FieldValueRequired', 'spec.target.newDatabase.name'],
    [
      'two steps of one name',
      restore({ ...SPEC }, { steps: [{ name: 'LoadData', phase: 'Failed' }, { name: 'LoadData', phase: 'Running' }] }),
      'FieldValueDuplicate',
      'status.steps[1]',
    ],
    ['an unknown step phase', restore({ ...SPEC }, { steps: [{ name: 'LoadData', phase: 'Done' }] }), 'FieldValueNotSupported', 'status.steps[0].phase'],
  ];
  for (const [name, obj, type, field] of bad) {
    it(`refuses ${name}`, () => {
      const errors = def.validate(obj);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.type, type);
      assert.equal(errors[0]!.field, field);
    });
  }
});

describe('Restore updates', () => {
  it('keeps the whole spec fixed', () => {
    const old = restore({ ...SPEC });
    const next = structuredClone(old);
    next.spec.backupName = 'orders-x2';
    next.spec.target = { newDatabase: { name: 'copy' } };
    assert.deepEqual(
      def.validateUpdate(next, old).map((e) => e.field),
      ['spec.backupName', 'spec.target'],
    );
    assert.deepEqual(def.validateUpdate(structuredClone(old), old), []);
  });
});

describe('Restore warnings, printing and selection', () => {
  it('warns when an in-place restore skips the safety backup', () => {
    assert.deepEqual(def.warnings(restore({ ...SPEC })), []);
    assert.match(def.warnings(restore({ ...SPEC, target: { inPlace: { safetyBackup: false } } }))[0] ?? '', /cannot be recovered/);
  });

  it('has DATABASE BACKUP PHASE', () => {
    assert.deepEqual(
      def.printerColumns.map((c) => [c.name, c.jsonPath]),
      [
        ['Database', '.spec.databaseName'],
        ['Backup', '.spec.backupName'],
        ['Phase', '.status.phase'],
      ],
    );
  });

  it('selects by database, backup and phase', () => {
    const obj = restore({ ...SPEC }, { phase: 'Completed' });
    assert.deepEqual(
      Object.fromEntries(Object.entries(def.selectableFields).map(([f, get]) => [f, get(obj)])),
      { 'spec.databaseName': 'orders', 'spec.backupName': 'orders-x1', 'status.phase': 'Completed' },
    );
  });
});
