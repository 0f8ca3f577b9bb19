import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childNames, configHash, decodeData, encodeData, identity, ordinalOf, selectorString } from '../../src/engines/common.ts';
import { engineFor } from '../../src/engines/registry.ts';
import { database, ENGINE_NAMES } from './fixtures.ts';

describe('engine names', () => {
  it('derives every child name from the Database name', () => {
    assert.deepEqual(childNames(database('redis', {}, 'cache')), {
      statefulSet: 'cache',
      headless: 'cache-headless',
      client: 'cache',
      readOnly: 'cache-ro',
      config: 'cache-config',
      credentials: 'cache-credentials',
      connection: 'cache-connection',
      disruptionBudget: 'cache',
      networkPolicy: 'cache',
      initJob: 'cache-init',
    });
  });

  it('needs a namespaced, named Database', () => {
    const db = database('redis');
    delete db.metadata.namespace;
    assert.throws(() => identity(db), /name and a namespace/);
  });

  const ordinals: [string, number | undefined][] = [
    ['orders-0', 0],
    ['orders-12', 12],
    ['my-db-3', 3],
    ['orders', undefined],
    ['orders-01', undefined],
    ['orders-', undefined],
  ];
  for (const [name, ordinal] of ordinals) {
    it(`reads ordinal ${ordinal} from ${name}`, () => assert.equal(ordinalOf(name), ordinal));
  }

  it('writes the selector as a label selector string', () => {
    assert.equal(selectorString(database('etcd')), 'app.kubernetes.io/component=database,app.kubernetes.io/name=etcd,strongroom.dev/database=orders');
  });

  for (const name of ENGINE_NAMES) {
    it(`finds the ${name} engine by name`, () => assert.equal(engineFor(name).name, name));
  }
});

describe('configHash', () => {
  it('ignores key order and notices any change', () => {
    assert.equal(configHash({ a: '1', b: '2' }), configHash({ b: '2', a: '1' }));
    assert.notEqual(configHash({ a: '1', b: '2' }), configHash({ a: '1', b: '3' }));
    assert.notEqual(configHash({ a: '12' }), configHash({ a1: '2' }));
  });
});

describe('Secret data', () => {
  it('round-trips through base64 in key order', () => {
    const data = encodeData({ z: 'last', a: 'ünïcode' });
    assert.deepEqual(Object.keys(data), ['a', 'z']);
    assert.deepEqual(decodeData({ apiVersion: 'v1', kind: 'Secret', metadata: {}, data }), { a: 'ünïcode', z: 'last' });
  });
});
