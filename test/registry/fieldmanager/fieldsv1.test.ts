import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FieldSet, fieldPath, field, fromFieldsV1, index, key, setValue, toFieldsV1, type Path } from '../../../src/registry/fieldmanager/index.ts';

const p = (...parts: (string | ReturnType<typeof field>)[]): Path => parts.flatMap((x) => (typeof x === 'string' ? fieldPath(x) : [x]));

describe('FieldsV1 encoding', () => {
  const cases: { name: string; paths: Path[]; fields: unknown }[] = [
    { name: 'empty set', paths: [], fields: {} },
    { name: 'struct fields', paths: [p('spec.replicas'), p('spec.engine')], fields: { 'f:spec': { 'f:engine': {}, 'f:replicas': {} } } },
    {
      name: 'a member that also has children gets "."',
      paths: [p('spec.backup'), p('spec.backup.schedule')],
      fields: { 'f:spec': { 'f:backup': { '.': {}, 'f:schedule': {} } } },
    },
    {
      name: 'list-map items by key, sorted by key name',
      paths: [p('status.conditions', key({ type: 'Ready' })), p('status.conditions', key({ type: 'Ready' }), field('status')), p('spec.members', key({ port: 80, name: 'a' }))],
      fields: {
        'f:spec': { 'f:members': { 'k:{"name":"a","port":80}': {} } },
        'f:status': { 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:status': {} } } },
      },
    },
    {
      name: 'set values and indexes; element kinds in f, k, v, i order',
      paths: [p('x', index(1)), p('x', setValue('b')), p('x', setValue(3)), p('x', key({ a: 1 })), p('x.y')],
      fields: { 'f:x': { 'f:y': {}, 'k:{"a":1}': {}, 'v:3': {}, 'v:"b"': {}, 'i:1': {} } },
    },
    {
      name: 'values are written as Go writes JSON',
      paths: [p('metadata.finalizers', setValue('a<b>&c')), p('spec.members', key({ name: 'x"y' }))],
      fields: { 'f:metadata': { 'f:finalizers': { 'v:"a\\u003cb\\u003e\\u0026c"': {} } }, 'f:spec': { 'f:members': { 'k:{"name":"x\\"y"}': {} } } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const set = FieldSet.of(...c.paths);
      const fields = toFieldsV1(set);
      assert.deepEqual(fields, c.fields);
      // Key order is part of the format.
      assert.equal(JSON.stringify(fields), JSON.stringify(c.fields));
      assert.ok(fromFieldsV1(fields).equals(set), 'round trip');
    });
  }
});

describe('FieldsV1 decoding', () => {
  it('reads `{}`, `.` and null as membership', () => {
    const set = fromFieldsV1({ 'f:a': {}, 'f:b': { '.': {}, 'f:c': {} }, 'f:d': { 'f:e': {} }, 'f:n': null });
    assert.deepEqual(set.paths().map((x) => x.map((e) => (e.kind === 'field' ? e.name : '?')).join('.')), ['a', 'b', 'n', 'b.c', 'd.e']);
    assert.equal(set.has(p('d')), false, 'a node with children only is not a member');
  });

  it('normalizes key order and drops unknown element types', () => {
    const set = fromFieldsV1({ 'f:m': { 'k:{"b":2,"a":1}': {}, 'x:future': {} } });
    assert.deepEqual(toFieldsV1(set), { 'f:m': { 'k:{"a":1,"b":2}': {} } });
  });

  const bad: [string, unknown][] = [
    ['a key shorter than two characters', { f: {} }],
    ['a key without colon', { 'fx': {} }],
    ['a k: key that is not an object', { 'k:[1]': {} }],
    ['a v: key that is not JSON', { 'v:{nope': {} }],
    ['an i: key that is not a number', { 'i:one': {} }],
    ['a node that is not an object', { 'f:a': 'x' }],
    ['a root that is a list', []],
  ];
  for (const [name, fields] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => fromFieldsV1(fields)));
  }
});
