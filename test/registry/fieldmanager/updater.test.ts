// Scenarios from structured-merge-diff's own tests (merge/leaf_test.go, set_test.go, nested_test.go,
// multiple_appliers_test.go), run against the updater alone: sequences of applies and updates, then the object and
// every manager's fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JSONSchemaProps } from '../../../src/api/definition.ts';
import { FieldSet } from '../../../src/registry/fieldmanager/fieldset.ts';
import { pathToString } from '../../../src/registry/fieldmanager/path.ts';
import { objectType } from '../../../src/registry/fieldmanager/schema.ts';
import { applyConfig, Conflicts, updateManagers, type VersionedSet } from '../../../src/registry/fieldmanager/updater.ts';
import type { Value } from '../../../src/registry/fieldmanager/value.ts';

const STRING: JSONSchemaProps = { type: 'string' };
const SET: JSONSchemaProps = { type: 'array', items: STRING, 'x-kubernetes-list-type': 'set' };
const NAMED = (value: JSONSchemaProps): JSONSchemaProps => ({
  type: 'array',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['name'],
  items: { type: 'object', properties: { name: STRING, value } },
});

const LEAF: JSONSchemaProps = { type: 'object', properties: { numeric: { type: 'number' }, string: STRING, bool: { type: 'boolean' } } };
const SETS: JSONSchemaProps = { type: 'object', properties: { list: SET } };
const NESTED: JSONSchemaProps = {
  type: 'object',
  properties: {
    listOfLists: NAMED(SET),
    listOfMaps: NAMED({ type: 'object', additionalProperties: STRING }),
    mapOfLists: { type: 'object', additionalProperties: SET },
    struct: { type: 'object', properties: { name: STRING, value: { type: 'number' } } },
  },
};

type Op =
  | { apply: Value; manager: string; force?: boolean; conflicts?: string[] }
  | { update: Value; manager: string };

interface Scenario {
  name: string;
  schema: JSONSchemaProps;
  ops: Op[];
  object: Value;
  /** Paths by manager, as printed in conflict messages; omitted when upstream does not check them. */
  managed?: Record<string, string[]>;
}

const scenarios: Scenario[] = [
  {
    name: 'leaf: apply, update, conflicting apply, forced apply',
    schema: LEAF,
    ops: [
      { apply: { numeric: 1, string: 'string' }, manager: 'default' },
      { update: { numeric: 1, string: 'controller string', bool: true }, manager: 'controller' },
      { apply: { numeric: 2, string: 'user string' }, manager: 'default', conflicts: ['controller .string'] },
      { apply: { numeric: 2, string: 'user string' }, manager: 'default', force: true },
    ],
    object: { numeric: 2, string: 'user string', bool: true },
    managed: { default: ['.numeric', '.string'], controller: ['.bool'] },
  },
  {
    name: 'leaf: apply twice removing a field',
    schema: LEAF,
    ops: [
      { apply: { numeric: 1, string: 'string', bool: false }, manager: 'default' },
      { apply: { string: 'new string' }, manager: 'default' },
    ],
    object: { string: 'new string' },
    managed: { default: ['.string'] },
  },
  {
    name: 'set: an updater’s items stay around the applier’s new ones',
    schema: SETS,
    ops: [
      { apply: { list: ['a', 'c'] }, manager: 'default' },
      { update: { list: ['a', 'b', 'c', 'd'] }, manager: 'controller' },
      { apply: { list: ['a', 'aprime', 'c', 'cprime'] }, manager: 'default' },
    ],
    object: { list: ['a', 'b', 'aprime', 'c', 'd', 'cprime'] },
    managed: { default: ['.list[="a"]', '.list[="aprime"]', '.list[="c"]', '.list[="cprime"]'], controller: ['.list[="b"]', '.list[="d"]'] },
  },
  {
    name: 'nested: removing everything applied',
    schema: NESTED,
    ops: [
      { apply: { struct: { name: 'a', value: 1 } }, manager: 'default' },
      { apply: null, manager: 'default' },
    ],
    object: null,
    managed: {},
  },
  {
    name: 'nested: a struct applied as null keeps its ownership',
    schema: NESTED,
    ops: [
      { apply: { struct: { name: 'a' } }, manager: 'default' },
      { apply: { struct: null }, manager: 'default' },
    ],
    object: { struct: null },
    managed: { default: ['.struct'] },
  },
  {
    name: 'nested: an updater’s field survives the applier removing the struct',
    schema: NESTED,
    ops: [
      { apply: { struct: { name: 'a' } }, manager: 'default' },
      { update: { struct: { name: 'a', value: 1 } }, manager: 'controller' },
      { apply: null, manager: 'default' },
    ],
    object: { struct: { value: 1 } },
  },
  {
    name: 'nested: applying an empty struct drops the applier’s fields only',
    schema: NESTED,
    ops: [
      { apply: { struct: { name: 'a' } }, manager: 'default' },
      { update: { struct: { name: 'a', value: 1 } }, manager: 'controller' },
      { apply: { struct: {} }, manager: 'default' },
    ],
    object: { struct: { value: 1 } },
  },
  {
    name: 'nested: a field taken over by an updater is not pruned',
    schema: NESTED,
    ops: [
      { apply: { struct: { name: 'a' } }, manager: 'default' },
      { update: { struct: { name: 'b', value: 1 } }, manager: 'controller' },
      { apply: { struct: null }, manager: 'default' },
    ],
    object: { struct: { name: 'b', value: 1 } },
  },
  {
    name: 'multiple appliers: removing an item another applier shares keeps its sub-items',
    schema: NESTED,
    ops: [
      { apply: { listOfLists: [{ name: 'a' }, { name: 'b', value: ['c'] }] }, manager: 'apply-one' },
      { apply: { listOfLists: [{ name: 'b', value: ['d'] }] }, manager: 'apply-two' },
      { update: { listOfLists: [{ name: 'a' }, { name: 'b', value: ['c', 'd', 'e'] }] }, manager: 'controller' },
      { apply: { listOfLists: [{ name: 'a' }] }, manager: 'apply-one' },
    ],
    object: { listOfLists: [{ name: 'a' }, { name: 'b', value: ['d', 'e'] }] },
    managed: {
      'apply-one': ['.listOfLists[name="a"]', '.listOfLists[name="a"].name'],
      'apply-two': ['.listOfLists[name="b"]', '.listOfLists[name="b"].name', '.listOfLists[name="b"].value[="d"]'],
      controller: ['.listOfLists[name="b"].value[="e"]'],
    },
  },
  {
    name: 'multiple appliers: removing an item drops an updater’s sub-item with it',
    schema: NESTED,
    ops: [
      { apply: { listOfLists: [{ name: 'a' }, { name: 'b', value: ['c'] }] }, manager: 'apply-one' },
      { apply: { listOfLists: [{ name: 'a', value: ['b'] }] }, manager: 'apply-two' },
      { update: { listOfLists: [{ name: 'a', value: ['b'] }, { name: 'b', value: ['c', 'd'] }] }, manager: 'controller' },
      { apply: { listOfLists: [{ name: 'a' }] }, manager: 'apply-one' },
    ],
    object: { listOfLists: [{ name: 'a', value: ['b'] }] },
    managed: {
      'apply-one': ['.listOfLists[name="a"]', '.listOfLists[name="a"].name'],
      'apply-two': ['.listOfLists[name="a"]', '.listOfLists[name="a"].name', '.listOfLists[name="a"].value[="b"]'],
    },
  },
];

function run(s: Scenario): { object: Value; managers: Map<string, VersionedSet> } {
  const scope = { type: objectType(s.schema), ignored: new FieldSet() };
  let object: Value = null;
  let managers = new Map<string, VersionedSet>();
  for (const op of s.ops) {
    if ('update' in op) {
      managers = updateManagers(scope, object, op.update, 'v1', managers, op.manager);
      object = op.update;
      continue;
    }
    try {
      const result = applyConfig(scope, object, op.apply, 'v1', managers, op.manager, op.force ?? false);
      assert.equal(op.conflicts, undefined, 'expected conflicts');
      managers = result.managers;
      if (result.object !== undefined) object = result.object;
    } catch (err) {
      if (!(err instanceof Conflicts) || !op.conflicts) throw err;
      assert.deepEqual(err.conflicts.map((c) => `${c.manager} ${pathToString(c.path)}`).sort(), [...op.conflicts].sort());
    }
  }
  return { object, managers };
}

describe('updater: upstream scenarios', () => {
  for (const s of scenarios) {
    it(s.name, () => {
      const { object, managers } = run(s);
      assert.deepEqual(object, s.object);
      if (s.managed) {
        const got = Object.fromEntries([...managers].map(([m, vs]) => [m, vs.set.paths().map(pathToString).sort()]));
        assert.deepEqual(got, Object.fromEntries(Object.entries(s.managed).map(([m, paths]) => [m, [...paths].sort()])));
      }
    });
  }
});
