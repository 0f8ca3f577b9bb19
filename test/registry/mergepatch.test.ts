import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMergePatch, mergePatch } from '../../src/registry/mergepatch.ts';

describe('mergePatch', () => {
  // RFC 7386 appendix A, complete.
  const rfcExamples: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  rfcExamples.forEach(([target, patch, expected], i) => {
    it(`RFC 7386 example ${i + 1}`, () => {
      assert.deepEqual(mergePatch(target, patch), expected);
    });
  });

  it('merges a kubectl-label style patch into an object', () => {
    const db = { metadata: { name: 'orders', labels: { a: '1', b: '2' } }, spec: { replicas: 1, storage: { size: '1Gi' } } };
    const patched = mergePatch(db, { metadata: { labels: { a: null, c: '3' } }, spec: { replicas: 3 } });
    assert.deepEqual(patched, { metadata: { name: 'orders', labels: { b: '2', c: '3' } }, spec: { replicas: 3, storage: { size: '1Gi' } } });
  });

  it('neither mutates nor shares structure with its inputs', () => {
    const target = { spec: { storage: { size: '1Gi' }, list: [1] } };
    const patch = { spec: { list: [2, { x: 1 }] } };
    const before = structuredClone({ target, patch });
    const result = mergePatch(target, patch) as typeof target & { spec: { list: unknown[] } };
    assert.deepEqual({ target, patch }, before);
    assert.notEqual(result.spec.storage, target.spec.storage);
    assert.notEqual(result.spec.list, patch.spec.list);
    assert.notEqual(result.spec.list[1], patch.spec.list[1]);
  });

  it('does not treat inherited properties as members of the target', () => {
    assert.deepEqual(mergePatch({}, JSON.parse('{"constructor": {"a": 1}, "toString": null}')), { constructor: { a: 1 } });
  });

  const pollution = ['{"__proto__": {"polluted": true}}', '{"spec": {"__proto__": {"polluted": true}}}', '{"constructor": {"prototype": {"polluted": true}}}'];
  for (const body of pollution) {
    it(`rejects ${body} with 400`, () => {
      assert.throws(() => mergePatch({ spec: {} }, JSON.parse(body)), { code: 400, reason: 'BadRequest' });
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
});

describe('createMergePatch', () => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['no change', { a: 1 }, { a: 1 }, {}],
    ['added member', { a: 1 }, { a: 1, b: 2 }, { b: 2 }],
    ['removed member', { a: 1, b: 2 }, { a: 1 }, { b: null }],
    ['nested change', { s: { x: 1, y: 2 } }, { s: { x: 1, y: 3 } }, { s: { y: 3 } }],
    ['array replaced whole', { l: [1, 2] }, { l: [1, 3] }, { l: [1, 3] }],
    ['object to scalar', { s: { x: 1 } }, { s: 'x' }, { s: 'x' }],
    ['non-object target', [1], { a: 1 }, { a: 1 }],
  ];
  for (const [name, from, to, expected] of cases) {
    it(`${name}, and applying it gives the target`, () => {
      const patch = createMergePatch(from, to);
      assert.deepEqual(patch, expected);
      assert.deepEqual(mergePatch(from, patch), to);
    });
  }
});
