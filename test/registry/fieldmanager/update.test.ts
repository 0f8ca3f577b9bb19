import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject, ManagedFieldsEntry } from '../../../src/api/meta.ts';
import {
  apply,
  managerFromUserAgent,
  update,
  validateFieldManager,
  validateManagedFields,
} from '../../../src/registry/fieldmanager/index.ts';
import { API_VERSION, config, entry, fieldsOf, managers, scope, stored, T0, T1, T2 } from './fixture.ts';

function write(live: KubeObject | undefined, manager: string, change: (o: KubeObject) => void, o: { now?: Date; subresource?: string } = {}): KubeObject {
  const updated = structuredClone(live ?? (config({}) as KubeObject));
  change(updated);
  return stored(update({ ...scope, live, updated, manager, subresource: o.subresource, now: o.now ?? T1 }).object);
}

const applied = () =>
  stored(apply({ ...scope, live: undefined, applied: config({ labels: { app: 'db' }, spec: { engine: 'postgres', replicas: 1 } }), manager: 'kubectl', now: T0 }).object);

describe('update: ownership of non-apply writes', () => {
  it('gives every field of a created object to its creator', () => {
    const created = write(undefined, 'kubectl-create', (o) => {
      o.metadata.labels = { app: 'db' };
      o.spec = { engine: 'postgres', backup: { schedule: '@daily' } };
    });
    assert.deepEqual(created.metadata.managedFields, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: API_VERSION,
        time: '2024-05-01T11:00:00Z',
        fieldsType: 'FieldsV1',
        // Containers that appeared are owned too ("."), as in the Go server.
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': { '.': {}, 'f:backup': { '.': {}, 'f:schedule': {} }, 'f:engine': {} },
        },
      },
    ]);
  });

  it('moves changed fields to the writer and leaves the rest', () => {
    const next = write(applied(), 'kubectl-edit', (o) => {
      o.spec.replicas = 3;
      o.metadata.labels!.team = 'dbs';
    });
    assert.deepEqual(fieldsOf(next, 'kubectl-edit', 'Update'), { 'f:metadata': { 'f:labels': { 'f:team': {} } }, 'f:spec': { 'f:replicas': {} } });
    assert.deepEqual(fieldsOf(next, 'kubectl'), { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:engine': {} } });
  });

  it('removes deleted fields from their owners', () => {
    const next = write(applied(), 'kubectl-edit', (o) => delete o.spec.replicas);
    assert.deepEqual(fieldsOf(next, 'kubectl'), { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:engine': {} } });
    assert.equal(entry(next, 'kubectl-edit', 'Update'), undefined, 'a write that only removes owns nothing');
  });

  it('records nothing, not even a time, for a write that changes nothing', () => {
    const live = applied();
    assert.deepEqual(write(live, 'kubectl-edit', () => {}), live);
  });

  it('merges a manager’s successive writes and moves its time', () => {
    let live = write(applied(), 'ctl', (o) => (o.spec.replicas = 2));
    live = write(live, 'ctl', (o) => (o.spec.version = '16'), { now: T2 });
    assert.deepEqual(fieldsOf(live, 'ctl', 'Update'), { 'f:spec': { 'f:replicas': {}, 'f:version': {} } });
    assert.equal(entry(live, 'ctl', 'Update')?.time, '2024-05-01T12:00:00Z');
  });

  it('names a nameless writer "unknown"', () => {
    assert.deepEqual(managers(write(applied(), '', (o) => (o.spec.replicas = 2))), ['kubectl/Apply', 'unknown/Update']);
  });

  it('folds the oldest of more than ten Update entries into ancient-changes', () => {
    let live = applied();
    for (let i = 0; i <= 10; i++) {
      live = write(live, `m${i}`, (o) => (o.metadata.labels![`k${i}`] = 'v'), { now: new Date(T1.getTime() + i * 1000) });
    }
    const updaters = managers(live).filter((m) => m.endsWith('/Update'));
    assert.equal(updaters.length, 10);
    assert.deepEqual(updaters.slice(0, 2), ['ancient-changes/Update', 'm2/Update']);
    assert.deepEqual(fieldsOf(live, 'ancient-changes', 'Update'), { 'f:metadata': { 'f:labels': { 'f:k0': {}, 'f:k1': {} } } });
    assert.equal(entry(live, 'ancient-changes', 'Update')?.time, '2024-05-01T11:00:01Z');
  });

  it('keeps the stored managedFields when the object does not fit the schema', () => {
    const live = applied();
    const object = update({ ...scope, live, updated: { ...structuredClone(live), spec: { replicas: 'x' } }, manager: 'ctl', now: T1 }).object;
    assert.deepEqual(object.metadata.managedFields, live.metadata.managedFields);
  });
});

describe('update: status, main resource and scale', () => {
  it('does not give status to writers of the main resource', () => {
    assert.deepEqual(managers(write(applied(), 'ctl', (o) => (o.status = { phase: 'Ready' }))), ['kubectl/Apply']);
  });

  it('records status writes with subresource "status", and only their status fields', () => {
    const next = write(
      applied(),
      'controller',
      (o) => {
        o.status = { phase: 'Ready' };
        o.spec.replicas = 9;
      },
      { subresource: 'status' },
    );
    const e = entry(next, 'controller', 'Update', 'status');
    assert.equal(e?.subresource, 'status');
    assert.deepEqual(e?.fieldsV1, { 'f:status': { '.': {}, 'f:phase': {} } });
  });

  it('gives /scale writers the replicas of the parent', () => {
    const next = write(applied(), 'kubectl-scale', (o) => (o.spec.replicas = 5), { subresource: 'scale' });
    assert.deepEqual(entry(next, 'kubectl-scale', 'Update', 'scale')?.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
  });
});

describe('update: managedFields sent by the client', () => {
  const imported: ManagedFieldsEntry = {
    manager: 'imported',
    operation: 'Update',
    apiVersion: API_VERSION,
    time: '2024-01-01T02:00:00.5+02:00',
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:spec': { 'f:engine': {}, 'f:replicas': {} } },
  };

  const cases: { name: string; sent: unknown; subresource?: string; want: string[] }[] = [
    { name: 'none: the stored ones are kept', sent: undefined, want: ['kubectl/Apply'] },
    { name: '[]: all are cleared', sent: [], want: [] },
    { name: 'one empty entry: all are cleared', sent: [{}], want: [] },
    { name: 'a valid list replaces the stored one', sent: [imported], want: ['imported/Update'] },
    { name: 'an unknown operation: the stored ones are kept', sent: [{ ...imported, operation: 'Patch' }], want: ['kubectl/Apply'] },
    { name: 'a bad FieldsV1 key: the stored ones are kept', sent: [{ ...imported, fieldsV1: { nope: {} } }], want: ['kubectl/Apply'] },
    { name: 'a malformed time: the stored ones are kept', sent: [{ ...imported, time: 'yesterday' }], want: ['kubectl/Apply'] },
    { name: 'anything, through a subresource: the stored ones are kept', sent: [], subresource: 'status', want: ['kubectl/Apply'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const next = write(applied(), 'ctl', (o) => (o.metadata.managedFields = c.sent as ManagedFieldsEntry[]), { subresource: c.subresource });
      assert.deepEqual(managers(next), c.want);
    });
  }

  it('normalizes the time of entries it keeps', () => {
    const next = write(applied(), 'ctl', (o) => (o.metadata.managedFields = [imported]));
    assert.equal(entry(next, 'imported', 'Update')?.time, '2024-01-01T00:00:00Z');
  });

  it('leaves a cleared object untracked until the next apply', () => {
    let live = write(applied(), 'ctl', (o) => (o.metadata.managedFields = []));
    live = write(live, 'ctl', (o) => (o.spec.replicas = 4));
    assert.equal(live.metadata.managedFields, undefined);
    live = stored(apply({ ...scope, live, applied: config({ spec: { engine: 'postgres' } }), manager: 'kubectl', now: T2 }).object);
    assert.deepEqual(managers(live), ['kubectl/Apply', 'before-first-apply/Update']);
  });
});

describe('field manager names', () => {
  const agents: [string, string][] = [
    ['kubectl/v1.31.0 (linux/amd64) kubernetes/9646d87', 'kubectl'],
    ['Go-http-client/1.1', 'Go-http-client'],
    ['argocd-application-controller', 'argocd-application-controller'],
    ['', ''],
    ['ab\u0001c/1.0', 'abc'],
    ['x'.repeat(200), 'x'.repeat(128)],
    ['é'.repeat(100), 'é'.repeat(64)],
  ];
  for (const [agent, manager] of agents) {
    it(`derives ${JSON.stringify(manager)} from the User-Agent ${JSON.stringify(agent.slice(0, 40))}`, () => assert.equal(managerFromUserAgent(agent), manager));
  }

  it('validates fieldManager like ValidateFieldManager', () => {
    assert.deepEqual(validateFieldManager('kubectl'), []);
    assert.deepEqual(validateFieldManager(''), []);
    assert.deepEqual(validateFieldManager('x'.repeat(129)), [{ type: 'FieldValueTooLong', field: 'fieldManager', message: 'Too long: may not be more than 128 bytes' }]);
    assert.deepEqual(validateFieldManager('bad\u0001'), [
      { type: 'FieldValueInvalid', field: 'fieldManager', message: 'Invalid value: "bad\\x01": invalid character U+0001 (at position 3)' },
    ]);
  });

  it('validates stored entries like ValidateManagedFields', () => {
    const entries = [
      { manager: 'ok', operation: 'Apply', apiVersion: API_VERSION, time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV1', fieldsV1: {} },
      { manager: 'tab\there', operation: 'Patch', apiVersion: API_VERSION, time: '2024-05-01T10:00:00Z', fieldsType: 'FieldsV2', fieldsV1: {} },
    ] as unknown as ManagedFieldsEntry[];
    assert.deepEqual(validateManagedFields(entries), [
      { type: 'FieldValueNotSupported', field: 'metadata.managedFields[1].operation', message: 'Unsupported value: "Patch": supported values: "Apply", "Update"' },
      { type: 'FieldValueInvalid', field: 'metadata.managedFields[1].fieldsType', message: 'Invalid value: "FieldsV2": must be `FieldsV1`' },
      { type: 'FieldValueInvalid', field: 'metadata.managedFields[1].manager', message: 'Invalid value: "tab\\there": invalid character U+0009 (at position 3)' },
    ]);
  });
});
