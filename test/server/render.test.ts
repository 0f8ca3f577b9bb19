import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeWatchEvent, serialize } from '../../src/server/render.ts';

const JSON_REP = { as: 'object', format: 'json' } as const;

function deepFrozen<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFrozen(child);
    Object.freeze(value);
  }
  return value;
}

const db = (name: string) => ({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name, labels: { a: 'b' } }, spec: { replicas: 1 } });

describe('serialize as JSON', () => {
  const cases: Array<{ name: string; value: unknown }> = [
    { name: 'a plain object', value: db('plain') },
    { name: 'a frozen object', value: deepFrozen(db('frozen')) },
    { name: 'a list of frozen items', value: { apiVersion: 'strongroom.dev/v1alpha1', kind: 'DatabaseList', metadata: { resourceVersion: '7', continue: 'x' }, items: [deepFrozen(db('a')), deepFrozen(db('b'))] } },
    { name: 'a list of plain items', value: { kind: 'PartialObjectMetadataList', metadata: {}, items: [db('c')] } },
    { name: 'an empty list', value: { kind: 'DatabaseList', metadata: { resourceVersion: '1' }, items: [] } },
    { name: 'a list of nothing but items', value: { items: [deepFrozen(db('d'))] } },
    { name: 'a Status', value: { kind: 'Status', status: 'Failure', code: 404 } },
    { name: 'a frozen object with non-ASCII text', value: deepFrozen({ ...db('utf8'), metadata: { name: 'utf8', annotations: { note: 'größe — 数据库' } } }) },
  ];
  for (const { name, value } of cases) {
    it(`encodes ${name} as JSON.stringify does`, () => {
      const { contentType, body } = serialize(value, JSON_REP);
      assert.equal(contentType, 'application/json');
      assert.equal(body.toString(), JSON.stringify(value));
    });
  }

  it('encodes an object changed since its last encoding afresh', () => {
    const obj = db('changing');
    serialize(obj, JSON_REP);
    obj.spec.replicas = 3;
    assert.equal(JSON.parse(serialize(obj, JSON_REP).body.toString()).spec.replicas, 3);
  });

  it('gives the same bytes for a frozen object alone and in a list', () => {
    const obj = deepFrozen(db('again'));
    const alone = serialize(obj, JSON_REP).body.toString();
    assert.equal(serialize(obj, JSON_REP).body.toString(), alone);
    assert.equal(serialize({ items: [obj] }, JSON_REP).body.toString(), `{"items":[${alone}]}`);
  });
});

describe('encodeWatchEvent', () => {
  it('writes one JSON line with the type and the object', () => {
    const obj = deepFrozen(db('watched'));
    const line = encodeWatchEvent('MODIFIED', obj).toString();
    assert.ok(line.endsWith('}\n'));
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.deepEqual(JSON.parse(line), { type: 'MODIFIED', object: obj });
  });
});
