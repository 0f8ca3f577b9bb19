import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../src/api/errors.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from '../../src/registry/jsonpatch.ts';

function database(): KubeObject {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: 'orders', resourceVersion: '7', finalizers: ['a', 'b'] },
    spec: { engine: 'postgres', replicas: 1 },
  };
}

describe('applyJsonPatch', () => {
  const applies: [string, unknown[], (obj: KubeObject) => void][] = [
    ['replace', [{ op: 'replace', path: '/spec/replicas', value: 3 }], (o) => assert.equal(o.spec.replicas, 3)],
    ['add a member', [{ op: 'add', path: '/spec/paused', value: true }], (o) => assert.equal(o.spec.paused, true)],
    ['remove an array item', [{ op: 'remove', path: '/metadata/finalizers/0' }], (o) => assert.deepEqual(o.metadata.finalizers, ['b'])],
    ['append with -', [{ op: 'add', path: '/metadata/finalizers/-', value: 'c' }], (o) => assert.deepEqual(o.metadata.finalizers, ['a', 'b', 'c'])],
    [
      'guarded by a passing test (the finalizer-helper pattern)',
      [
        { op: 'test', path: '/metadata/finalizers/1', value: 'b' },
        { op: 'remove', path: '/metadata/finalizers/1' },
      ],
      (o) => assert.deepEqual(o.metadata.finalizers, ['a']),
    ],
    ['copy and move', [{ op: 'copy', from: '/spec/engine', path: '/spec/was' }, { op: 'move', from: '/spec/was', path: '/spec/old' }], (o) => assert.equal(o.spec.old, 'postgres')],
    ['an empty patch', [], (o) => assert.deepEqual(o, database())],
  ];
  for (const [name, patch, check] of applies) {
    it(`applies ${name}`, () => check(applyJsonPatch(database(), patch)));
  }

  it('does not modify the input', () => {
    const obj = database();
    applyJsonPatch(obj, [{ op: 'replace', path: '/spec/replicas', value: 3 }, { op: 'remove', path: '/metadata/finalizers/0' }]);
    assert.deepEqual(obj, database());
  });

  // A patch that does not apply is 422 with kube-apiserver's generic message; the cause says which operation failed.
  const doesNotApply: [string, unknown[], RegExp][] = [
    ['a failed test', [{ op: 'test', path: '/spec/replicas', value: 2 }], /^json patch operation 0 \(test operation at "\/spec\/replicas"\): test failed$/],
    ['a missing path', [{ op: 'remove', path: '/spec/storage' }], /operation 0 \(remove operation at "\/spec\/storage"\): doc is missing path/],
    ['a missing parent', [{ op: 'add', path: '/spec/backup/schedule', value: 'x' }], /doc is missing path/],
    ['a missing from', [{ op: 'move', from: '/spec/nope', path: '/spec/x' }], /doc is missing from path/],
    ['an out-of-range index', [{ op: 'add', path: '/metadata/finalizers/5', value: 'x' }], /array index out of bounds/],
    ['a test after a replace', [{ op: 'replace', path: '/spec/replicas', value: 2 }, { op: 'test', path: '/spec/replicas', value: 1 }], /^json patch operation 1 /],
    ['a root replace with a scalar', [{ op: 'replace', path: '', value: 5 }], /the patched document is not a JSON object/],
  ];
  for (const [name, patch, cause] of doesNotApply) {
    it(`answers 422 Invalid for ${name}`, () => {
      assert.throws(() => applyJsonPatch(database(), patch), (err: unknown) => {
        assert.ok(err instanceof StatusError);
        assert.equal(err.code, 422);
        assert.equal(err.reason, 'Invalid');
        assert.equal(err.message, 'the server rejected our request due to an error in our request');
        assert.equal(err.details?.causes?.length, 1);
        assert.match(err.details!.causes![0]!.message!, cause);
        return true;
      });
    });
  }

  const malformed: [string, unknown, RegExp][] = [
    ['an object body', { op: 'add', path: '/x', value: 1 }, /must be an array of operations/],
    ['a non-object operation', [5], /operation 0 .*is invalid: Operation is not an object/],
    ['an unknown op', [{ op: 'merge', path: '/spec' }], /is invalid: Operation `op` property is not one of operations defined in RFC-6902/],
    ['a relative path', [{ op: 'add', path: 'spec/x', value: 1 }], /must start with "\/"/],
    ['a missing value', [{ op: 'replace', path: '/spec/replicas' }], /`value` property is not present/],
    ['a missing from', [{ op: 'copy', path: '/spec/x' }], /`from` property is not present/],
    ['a __proto__ path', [{ op: 'add', path: '/__proto__/polluted', value: true }], /__proto__/],
    [
      'a constructor/prototype path',
      [
        { op: 'add', path: '/spec/constructor', value: {} },
        { op: 'add', path: '/spec/constructor/prototype', value: { polluted: true } },
      ],
      /constructor\/prototype/,
    ],
  ];
  for (const [name, patch, message] of malformed) {
    it(`answers 400 BadRequest for ${name}`, () => {
      assert.throws(() => applyJsonPatch(database(), patch), { code: 400, reason: 'BadRequest', message });
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  it('answers 413 for more operations than kube-apiserver allows', () => {
    const patch = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/kind', value: 'Database' }));
    assert.throws(() => applyJsonPatch(database(), patch), { code: 413, message: `The allowed maximum operations in a JSON patch is 10000, got 10001` });
  });
});
