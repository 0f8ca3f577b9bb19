import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareObjects, fieldSetOf, pathToString, toFieldsV1 } from '../../../src/registry/fieldmanager/index.ts';
import { SCHEMA } from './fixture.ts';

const fieldsOfSpec = (spec: unknown) => toFieldsV1(fieldSetOf({ spec }, SCHEMA));

describe('fieldSetOf: what a configuration owns', () => {
  const cases: { name: string; spec: unknown; want: unknown }[] = [
    { name: 'scalars; a struct holding them is only a path', spec: { replicas: 1, paused: false }, want: { 'f:spec': { 'f:paused': {}, 'f:replicas': {} } } },
    { name: 'an empty struct is owned itself', spec: { backup: {} }, want: { 'f:spec': { 'f:backup': {} } } },
    { name: 'an explicit null is owned', spec: { version: null }, want: { 'f:spec': { 'f:version': {} } } },
    { name: 'granular map: each key', spec: { parameters: { a: '1', b: '2' } }, want: { 'f:spec': { 'f:parameters': { 'f:a': {}, 'f:b': {} } } } },
    { name: 'atomic map: the map only', spec: { selector: { app: 'x' } }, want: { 'f:spec': { 'f:selector': {} } } },
    { name: 'atomic list: the list only', spec: { ports: [1, 2] }, want: { 'f:spec': { 'f:ports': {} } } },
    { name: 'set: each value', spec: { tags: ['b', 'a'] }, want: { 'f:spec': { 'f:tags': { 'v:"a"': {}, 'v:"b"': {} } } } },
    { name: 'an empty set owns nothing', spec: { tags: [] }, want: {} },
    {
      name: 'list-map: each item and its fields, keys included',
      spec: { members: [{ name: 'a', role: 'primary' }, { name: 'b' }] },
      want: { 'f:spec': { 'f:members': { 'k:{"name":"a"}': { '.': {}, 'f:name': {}, 'f:role': {} }, 'k:{"name":"b"}': { '.': {}, 'f:name': {} } } } },
    },
    {
      name: 'preserve-unknown-fields: deduced maps are granular, lists atomic',
      spec: { extra: { a: { b: 1 }, l: [1] } },
      want: { 'f:spec': { 'f:extra': { 'f:a': { '.': {}, 'f:b': {} }, 'f:l': {} } } },
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(fieldsOfSpec(c.spec), c.want));

  it('gives metadata its ObjectMeta shape', () => {
    const obj = {
      metadata: {
        labels: { app: 'x' },
        finalizers: ['strongroom.dev/backup'],
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'u-1' }],
      },
    };
    assert.deepEqual(toFieldsV1(fieldSetOf(obj, SCHEMA)), {
      'f:metadata': {
        'f:finalizers': { 'v:"strongroom.dev/backup"': {} },
        'f:labels': { 'f:app': {} },
        // owner references are atomic items keyed by uid
        'f:ownerReferences': { 'k:{"uid":"u-1"}': {} },
      },
    });
  });

  const invalid: { name: string; obj: unknown; message: string }[] = [
    { name: 'an undeclared field', obj: { spec: { nope: 1 } }, message: '.spec.nope: field not declared in schema' },
    { name: 'a string for a number', obj: { spec: { replicas: '3' } }, message: '.spec.replicas: expected numeric (int or float), got string' },
    { name: 'a number for a string', obj: { spec: { engine: 3 } }, message: '.spec.engine: expected string, got &value.valueUnstructured{Value:3}' },
    { name: 'a string for a boolean', obj: { spec: { paused: 'yes' } }, message: '.spec.paused: expected boolean, got &{yes}' },
    { name: 'a scalar for a map', obj: { spec: { backup: 'daily' } }, message: '.spec.backup: expected map, got &{daily}' },
    {
      name: 'a list-map item without its key',
      obj: { spec: { members: [{ role: 'x' }] } },
      message: '.spec.members: element 0: associative list with keys has an element that omits all key fields ["name"] (and doesn\'t have default values for any key fields)',
    },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => assert.throws(() => fieldSetOf(c.obj, SCHEMA), { message: c.message }));
  }
});

describe('compareObjects', () => {
  it('reports added, modified and removed fields; a new container is added with its items', () => {
    const c = compareObjects(
      { spec: { replicas: 1, engine: 'postgres', tags: ['a'] } },
      { spec: { replicas: 2, tags: ['a', 'b'], backup: { schedule: '@daily' } } },
      SCHEMA,
    );
    assert.deepEqual(c.modified.paths().map(pathToString), ['.spec.replicas']);
    assert.deepEqual(c.removed.paths().map(pathToString), ['.spec.engine']);
    assert.deepEqual(c.added.paths().map(pathToString), ['.spec.backup', '.spec.backup.schedule', '.spec.tags[="b"]']);
  });

  it('compares atomic lists as one value', () => {
    const c = compareObjects({ spec: { ports: [1, 2] } }, { spec: { ports: [2, 1] } }, SCHEMA);
    assert.deepEqual(c.modified.paths().map(pathToString), ['.spec.ports']);
  });
});
