// Semantic equality of stored objects: what a JSON round trip cannot tell apart is equal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/meta.ts';
import { isNoOpUpdate, semanticallyEqual } from '../../src/registry/equality.ts';

describe('semanticallyEqual', () => {
  const cases: Array<[string, unknown, unknown, boolean]> = [
    ['key order', { a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 }, true],
    ['an undefined member and an absent one', { a: 1, b: undefined }, { a: 1 }, true],
    ['array order', [1, 2], [2, 1], false],
    ['array length', [1], [1, 1], false],
    ['null and absent', { a: null }, {}, false],
    ['an object and an array', {}, [], false],
    ['numbers and strings', { a: 1 }, { a: '1' }, false],
    ['nested difference', { a: { b: [{ c: 1 }] } }, { a: { b: [{ c: 2 }] } }, false],
  ];
  for (const [name, a, b, equal] of cases) it(`${equal ? 'ignores' : 'sees'} ${name}`, () => assert.equal(semanticallyEqual(a, b), equal));
});

describe('isNoOpUpdate', () => {
  const object = (time: string, replicas = 1): KubeObject => ({
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: 'orders', managedFields: [{ manager: 'm', operation: 'Update', apiVersion: 'strongroom.dev/v1alpha1', time, fieldsType: 'FieldsV1', fieldsV1: {} }] },
    spec: { replicas },
  });
  it('ignores a change of managedFields timestamps alone', () => {
    assert.equal(isNoOpUpdate(object('2025-01-01T00:00:01Z'), object('2025-01-01T00:00:00Z')), true);
  });
  it('sees any other change', () => {
    assert.equal(isNoOpUpdate(object('2025-01-01T00:00:01Z', 2), object('2025-01-01T00:00:00Z')), false);
  });
});
