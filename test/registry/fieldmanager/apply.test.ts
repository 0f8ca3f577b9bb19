import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatusError } from '../../../src/api/errors.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { apply, LAST_APPLIED_ANNOTATION, update } from '../../../src/registry/fieldmanager/index.ts';
import { API_VERSION, config, entry, fieldsOf, managers, scope, stored, T0, T1, T2 } from './fixture.ts';

type Body = Parameters<typeof config>[0];

function applyAs(live: KubeObject | undefined, manager: string, body: Body, o: { force?: boolean; subresource?: string; now?: Date } = {}): KubeObject {
  const { object } = apply({ ...scope, live, applied: config(body), manager, force: o.force, subresource: o.subresource, now: o.now ?? T0 });
  return stored(object);
}

/** Runs `fn` and returns the StatusError it throws. */
function failure(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    return err as StatusError;
  }
  assert.fail('expected a failure');
}

const base = () => applyAs(undefined, 'kubectl', { labels: { app: 'db' }, spec: { engine: 'postgres', replicas: 1, parameters: { a: '1' } } });

describe('apply: create and re-apply', () => {
  it('creates with one Apply entry in the wire shape', () => {
    const { object } = apply({ ...scope, live: undefined, applied: config({ labels: { app: 'db' }, spec: { engine: 'postgres', replicas: 1 } }), manager: 'kubectl', now: T0 });
    assert.deepEqual(object.spec, { engine: 'postgres', replicas: 1 });
    const expected = [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: API_VERSION,
        time: '2024-05-01T10:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:engine': {}, 'f:replicas': {} } },
      },
    ];
    assert.deepEqual(object.metadata.managedFields, expected);
    // Field order as encoding/json writes it, and no `subresource` for the main resource.
    assert.equal(JSON.stringify(object.metadata.managedFields), JSON.stringify(expected));
  });

  it('changes nothing, not even the time, when the same configuration is applied again', () => {
    const live = base();
    const again = applyAs(live, 'kubectl', { labels: { app: 'db' }, spec: { engine: 'postgres', replicas: 1, parameters: { a: '1' } } }, { now: T1 });
    assert.deepEqual(again, live);
  });

  it('removes the fields the applier no longer specifies', () => {
    const live = base();
    const next = applyAs(live, 'kubectl', { spec: { engine: 'postgres' } }, { now: T1 });
    assert.deepEqual(next.spec, { engine: 'postgres' });
    assert.equal(next.metadata.labels, undefined);
    assert.equal(next.metadata.uid, live.metadata.uid, 'fields nobody applied stay');
    assert.deepEqual(fieldsOf(next, 'kubectl'), { 'f:spec': { 'f:engine': {} } });
    assert.equal(entry(next, 'kubectl')?.time, '2024-05-01T11:00:00Z');
  });

  it('keeps a field it stops applying while another manager still owns it', () => {
    const shared = applyAs(base(), 'helm', { spec: { replicas: 1 } });
    const next = applyAs(shared, 'kubectl', { spec: { engine: 'postgres', parameters: { a: '1' } } }, { now: T1 });
    assert.equal(next.spec.replicas, 1);
    assert.deepEqual(fieldsOf(next, 'helm'), { 'f:spec': { 'f:replicas': {} } });
  });

  it('merges list-map items keeping the configuration order, live-only items after', () => {
    let live = applyAs(undefined, 'kubectl', { spec: { members: [{ name: 'a' }] } });
    live = applyAs(live, 'other', { spec: { members: [{ name: 'b' }] } });
    assert.deepEqual(live.spec.members, [{ name: 'a' }, { name: 'b' }]);
    const next = applyAs(live, 'kubectl', { spec: { members: [{ name: 'c' }, { name: 'a', role: 'primary' }] } });
    assert.deepEqual(next.spec.members, [{ name: 'c' }, { name: 'a', role: 'primary' }, { name: 'b' }]);
  });
});

describe('apply: ownership between managers', () => {
  it('lets two managers own disjoint fields', () => {
    const next = applyAs(base(), 'backup-controller', { spec: { backup: { schedule: '@daily' } } });
    assert.deepEqual(next.spec, { engine: 'postgres', replicas: 1, parameters: { a: '1' }, backup: { schedule: '@daily' } });
    assert.deepEqual(managers(next), ['backup-controller/Apply', 'kubectl/Apply']);
    assert.deepEqual(fieldsOf(next, 'backup-controller'), { 'f:spec': { 'f:backup': { 'f:schedule': {} } } });
  });

  const conflicts: { name: string; setup?: (o: KubeObject) => KubeObject; body: Body; message: string; causes: [string, string][] }[] = [
    {
      name: 'a changed scalar',
      body: { spec: { replicas: 3 } },
      message: 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas',
      causes: [['conflict with "kubectl"', '.spec.replicas']],
    },
    {
      name: 'several fields of one manager',
      body: { spec: { replicas: 3, parameters: { a: '2' } } },
      message: 'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.replicas\n- .spec.parameters.a',
      causes: [
        ['conflict with "kubectl"', '.spec.replicas'],
        ['conflict with "kubectl"', '.spec.parameters.a'],
      ],
    },
    {
      name: 'fields of two managers, grouped by manager',
      setup: (o) => applyAs(o, 'helm', { spec: { parameters: { b: '1' } } }),
      body: { spec: { replicas: 3, parameters: { b: '9' } } },
      message: 'Apply failed with 2 conflicts: conflicts with "helm":\n- .spec.parameters.b\nconflicts with "kubectl":\n- .spec.replicas',
      causes: [
        ['conflict with "helm"', '.spec.parameters.b'],
        ['conflict with "kubectl"', '.spec.replicas'],
      ],
    },
    {
      name: 'a field an Update manager changed (kubectl edit, merge patch)',
      setup: (o) => edit(o, 'kubectl-edit', (x) => (x.spec.replicas = 5)),
      body: { spec: { replicas: 1 } },
      message: `Apply failed with 1 conflict: conflict with "kubectl-edit" using ${API_VERSION}: .spec.replicas`,
      causes: [[`conflict with "kubectl-edit" using ${API_VERSION}`, '.spec.replicas']],
    },
    {
      name: 'a condition owned through the status subresource',
      setup: (o) => applyAs(o, 'controller', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' }),
      body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } },
      message: 'Apply failed with 1 conflict: conflict with "controller" with subresource "status": .status.conditions[type="Ready"].status',
      causes: [['conflict with "controller" with subresource "status"', '.status.conditions[type="Ready"].status']],
    },
  ];
  for (const c of conflicts) {
    it(`answers 409 for ${c.name}`, () => {
      const live = (c.setup ?? ((o) => o))(base());
      const subresource = c.body.status ? 'status' : undefined;
      const err = failure(() => applyAs(live, 'other', c.body, { subresource }));
      assert.equal(err.code, 409);
      assert.equal(err.reason, 'Conflict');
      assert.equal(err.message, c.message);
      assert.deepEqual(err.details, { causes: c.causes.map(([message, field]) => ({ reason: 'FieldManagerConflict', message, field })) });
    });
  }

  it('shares ownership of a field applied with the same value', () => {
    const next = applyAs(base(), 'other', { spec: { replicas: 1 } }, { now: T1 });
    assert.deepEqual(fieldsOf(next, 'other'), { 'f:spec': { 'f:replicas': {} } });
    assert.deepEqual(fieldsOf(next, 'kubectl')?.['f:spec']?.['f:replicas'], {});
    // The object did not change, so upstream records no time for the new entry.
    assert.equal(entry(next, 'other')?.time, undefined);
  });

  it('takes ownership with force', () => {
    const next = applyAs(base(), 'other', { spec: { replicas: 3 } }, { force: true, now: T1 });
    assert.equal(next.spec.replicas, 3);
    assert.deepEqual(fieldsOf(next, 'other'), { 'f:spec': { 'f:replicas': {} } });
    assert.deepEqual(fieldsOf(next, 'kubectl'), { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:engine': {}, 'f:parameters': { 'f:a': {} } } });
  });

  it('charges the first apply to an untracked object with conflicts against before-first-apply', () => {
    const live = stored(base());
    delete live.metadata.managedFields;
    const err = failure(() => applyAs(live, 'kubectl', { spec: { replicas: 2 } }));
    assert.equal(err.message, `Apply failed with 1 conflict: conflict with "before-first-apply" using ${API_VERSION}: .spec.replicas`);
    const same = applyAs(live, 'kubectl', { spec: { engine: 'postgres' } });
    assert.deepEqual(managers(same), ['kubectl/Apply', 'before-first-apply/Update']);
  });
});

describe('apply: merge types', () => {
  it('merges label maps key by key', () => {
    const live = applyAs(base(), 'team-bot', { labels: { team: 'dbs' } });
    assert.deepEqual(live.metadata.labels, { app: 'db', team: 'dbs' });
    assert.deepEqual(fieldsOf(live, 'team-bot'), { 'f:metadata': { 'f:labels': { 'f:team': {} } } });
    const next = applyAs(live, 'kubectl', { spec: { engine: 'postgres', replicas: 1, parameters: { a: '1' } } });
    assert.deepEqual(next.metadata.labels, { team: 'dbs' });
  });

  it('merges conditions by type', () => {
    let live = applyAs(base(), 'controller', { status: { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    live = applyAs(live, 'backup-agent', { status: { conditions: [{ type: 'BackupHealthy', status: 'True' }] } }, { subresource: 'status' });
    assert.deepEqual(live.status.conditions, [
      { type: 'Ready', status: 'True' },
      { type: 'BackupHealthy', status: 'True' },
    ]);
    live = applyAs(live, 'controller', { status: { phase: 'Degraded', conditions: [{ type: 'Ready', status: 'False', reason: 'Down' }] } }, { subresource: 'status' });
    assert.deepEqual(live.status, {
      phase: 'Degraded',
      conditions: [
        { type: 'Ready', status: 'False', reason: 'Down' },
        { type: 'BackupHealthy', status: 'True' },
      ],
    });
    assert.deepEqual(entry(live, 'controller', 'Apply', 'status')?.fieldsV1, {
      'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:reason': {}, 'f:status': {}, 'f:type': {} } }, 'f:phase': {} },
    });
    assert.equal(entry(live, 'controller', 'Apply', 'status')?.subresource, 'status');
  });

  it('replaces atomic lists whole and owns them as one field', () => {
    const live = applyAs(base(), 'kubectl', { spec: { engine: 'postgres', replicas: 1, parameters: { a: '1' }, ports: [5432, 8008] } });
    assert.deepEqual(fieldsOf(live, 'kubectl')?.['f:spec']?.['f:ports'], {});
    assert.equal(failure(() => applyAs(live, 'other', { spec: { ports: [1] } })).message, 'Apply failed with 1 conflict: conflict with "kubectl": .spec.ports');
    const next = applyAs(live, 'other', { spec: { ports: [1] } }, { force: true });
    assert.deepEqual(next.spec.ports, [1]);
  });

  it('unions finalizers and removes only the applier’s own', () => {
    let live = applyAs(undefined, 'kubectl', { finalizers: ['a'], spec: { engine: 'postgres' } });
    live = applyAs(live, 'controller', { finalizers: ['b'] });
    assert.deepEqual(live.metadata.finalizers, ['a', 'b']);
    assert.deepEqual(fieldsOf(live, 'controller'), { 'f:metadata': { 'f:finalizers': { 'v:"b"': {} } } });
    live = applyAs(live, 'kubectl', { spec: { engine: 'postgres' } });
    assert.deepEqual(live.metadata.finalizers, ['b']);
    live = applyAs(live, 'controller', {});
    assert.equal(live.metadata.finalizers, undefined);
    assert.deepEqual(managers(live), ['kubectl/Apply']);
  });
});

describe('apply: status and the main resource', () => {
  it('never gives the main resource’s applier the status', () => {
    const next = applyAs(undefined, 'kubectl', { spec: { engine: 'postgres' }, status: { phase: 'Ready' } });
    assert.deepEqual(fieldsOf(next, 'kubectl'), { 'f:spec': { 'f:engine': {} } });
  });

  it('gives a status applier only the status', () => {
    const next = applyAs(base(), 'controller', { spec: { engine: 'redis' }, status: { phase: 'Ready' } }, { subresource: 'status' });
    assert.deepEqual(entry(next, 'controller', 'Apply', 'status')?.fieldsV1, { 'f:status': { 'f:phase': {} } });
  });
});

describe('apply: migration from client-side apply', () => {
  const clientSide = (replicas: number) => {
    const cfg = config({ spec: { engine: 'postgres', replicas } });
    const created = config({ spec: { engine: 'postgres', replicas }, annotations: { [LAST_APPLIED_ANNOTATION]: `${JSON.stringify(cfg)}\n` } });
    return stored(update({ ...scope, live: undefined, updated: created as KubeObject, manager: 'kubectl-client-side-apply', now: T0 }).object);
  };

  it('lets kubectl --server-side take over what its client-side apply set, and refreshes the annotation', () => {
    const next = applyAs(clientSide(1), 'kubectl', { spec: { engine: 'postgres', replicas: 2 } }, { now: T1 });
    assert.equal(next.spec.replicas, 2);
    assert.equal(
      next.metadata.annotations?.[LAST_APPLIED_ANNOTATION],
      `{"apiVersion":"${API_VERSION}","kind":"Database","metadata":{"name":"db","namespace":"ns"},"spec":{"engine":"postgres","replicas":2}}\n`,
    );
    assert.deepEqual(fieldsOf(next, 'kubectl'), { 'f:spec': { 'f:engine': {}, 'f:replicas': {} } });
  });

  it('still conflicts when the live value no longer matches the annotation', () => {
    const live = edit(clientSide(1), 'kubectl-edit', (x) => (x.spec.replicas = 4));
    assert.equal(failure(() => applyAs(live, 'kubectl', { spec: { engine: 'postgres', replicas: 2 } })).code, 409);
  });

  it('does not migrate for other managers', () => {
    const err = failure(() => applyAs(clientSide(1), 'argocd', { spec: { replicas: 2 } }));
    assert.equal(err.message, `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using ${API_VERSION}: .spec.replicas`);
  });
});

describe('apply: refused requests', () => {
  it('requires a fieldManager (422 on PatchOptions)', () => {
    const err = failure(() => apply({ ...scope, live: undefined, applied: config({}), manager: '', now: T0 }));
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    assert.equal(err.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    assert.deepEqual(err.details?.causes, [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }]);
  });

  const bad: { name: string; applied: Record<string, unknown>; code: number; message: string }[] = [
    {
      name: 'another kind',
      applied: { ...config({}), kind: 'Backup' },
      code: 400,
      message: 'invalid object type: strongroom.dev/v1alpha1, Kind=Backup',
    },
    {
      name: 'managedFields in the body',
      applied: { ...config({}), metadata: { name: 'db', managedFields: [] } },
      code: 400,
      message: 'metadata.managedFields must be nil',
    },
    {
      name: 'a value of the wrong type',
      applied: config({ spec: { replicas: 'three' } }),
      code: 500,
      message: 'failed to create typed patch object (ns/db; strongroom.dev/v1alpha1, Kind=Database): .spec.replicas: expected numeric (int or float), got string',
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => {
      const err = failure(() => apply({ ...scope, live: base(), applied: c.applied, manager: 'kubectl', now: T2 }));
      assert.equal(err.code, c.code);
      assert.equal(err.message, c.message);
    });
  }
});

/** A non-apply write (kubectl edit, merge patch) by `manager`. */
function edit(live: KubeObject, manager: string, change: (o: KubeObject) => void): KubeObject {
  const updated = structuredClone(live);
  change(updated);
  return stored(update({ ...scope, live, updated, manager, now: T1 }).object);
}
