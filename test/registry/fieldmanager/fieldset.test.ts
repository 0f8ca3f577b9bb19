import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldSet, field, fieldPath, key, pathToString, setValue, type Path } from '../../../src/registry/fieldmanager/index.ts';

const set = (...dotted: string[]) => FieldSet.of(...dotted.map(fieldPath));
const lines = (s: FieldSet) => s.paths().map(pathToString);

describe('FieldSet algebra', () => {
  const cases: { name: string; got: () => FieldSet; want: string[] }[] = [
    { name: 'union', got: () => set('a.b', 'c').union(set('a.d', 'c')), want: ['.c', '.a.b', '.a.d'] },
    { name: 'intersection keeps common paths only', got: () => set('a.b', 'a.d', 'c').intersection(set('a.d', 'e')), want: ['.a.d'] },
    { name: 'difference removes equal paths', got: () => set('a.b', 'a.d', 'c').difference(set('a.d', 'c')), want: ['.a.b'] },
    // parent − child = parent, and a member does not remove what lies below it
    { name: 'difference is not recursive', got: () => set('a', 'a.b').difference(set('a')), want: ['.a.b'] },
    { name: 'recursive difference removes the subtree', got: () => set('a', 'a.b', 'c.d').recursiveDifference(set('a', 'c.x')), want: ['.c.d'] },
    { name: 'leaves drop members that have children', got: () => set('a', 'a.b', 'c').leaves(), want: ['.c', '.a.b'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(lines(c.got()), c.want));

  it('answers membership, emptiness and size', () => {
    const s = set('spec.replicas', 'spec.backup.schedule');
    assert.equal(s.has(fieldPath('spec.replicas')), true);
    assert.equal(s.has(fieldPath('spec')), false);
    assert.equal(s.has([]), false, 'nobody owns the whole object');
    assert.equal(s.size(), 2);
    assert.equal(s.empty(), false);
    assert.equal(new FieldSet().empty(), true);
    assert.equal(s.difference(s).empty(), true);
  });

  it('prints paths like kube-apiserver', () => {
    const paths: Path[] = [
      [field('status'), field('conditions'), key({ type: 'Ready' }), field('status')],
      [field('metadata'), field('finalizers'), setValue('strongroom.dev/backup')],
      [field('spec'), field('members'), key({ name: 'a', weight: 2 })],
    ];
    assert.deepEqual(paths.map(pathToString), [
      '.status.conditions[type="Ready"].status',
      '.metadata.finalizers[="strongroom.dev/backup"]',
      '.spec.members[name="a",weight=2]',
    ]);
  });
});
