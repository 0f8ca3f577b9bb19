import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resourcePath, resourceTypeOf, resourceTypes } from '../../../src/controller/runtime/kinds.ts';

describe('resource paths', () => {
  const cases: Array<[string, string]> = [
    [resourcePath(resourceTypes.ConfigMap, 'ns', 'settings'), '/api/v1/namespaces/ns/configmaps/settings'],
    [resourcePath(resourceTypes.ConfigMap, 'ns'), '/api/v1/namespaces/ns/configmaps'],
    [resourcePath(resourceTypes.ConfigMap), '/api/v1/configmaps'],
    [resourcePath(resourceTypes.StatefulSet, 'ns', 'db', 'scale'), '/apis/apps/v1/namespaces/ns/statefulsets/db/scale'],
    [resourcePath(resourceTypes.PodDisruptionBudget, 'ns', 'db'), '/apis/policy/v1/namespaces/ns/poddisruptionbudgets/db'],
    [resourcePath(resourceTypeOf('strongroom.dev/v1alpha1', 'Database'), 'ns', 'db', 'status'), '/apis/strongroom.dev/v1alpha1/namespaces/ns/databases/db/status'],
    [resourcePath(resourceTypeOf('batch/v1', 'Job'), 'ns'), '/apis/batch/v1/namespaces/ns/jobs'],
  ];
  for (const [actual, expected] of cases) it(expected, () => assert.equal(actual, expected));

  it('refuses an unknown type and a namespaced object without its namespace', () => {
    assert.throws(() => resourceTypeOf('v1', 'Frobnicator'), /unknown resource type Frobnicator/);
    assert.throws(() => resourceTypeOf('v2', 'ConfigMap'), /unknown resource type/);
    assert.throws(() => resourcePath(resourceTypes.Secret, undefined, 'creds'), /needs its namespace/);
  });
});
