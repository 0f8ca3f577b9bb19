// Attributes and caches for admission tests: a request on a Database as the write pipeline builds it, and caches
// filled the way an informer's first list fills them.
import assert from 'node:assert/strict';
import { StatusError } from '../../src/api/errors.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { ObjectCache } from '../../src/controller/runtime/cache.ts';
import type { AdmissionAttributes } from '../../src/admission/interface.ts';
import type { NamespaceLookup } from '../../src/admission/matching/namespaces.ts';

export function database(name = 'orders', spec: Record<string, unknown> = {}, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name, namespace: 'prod', labels },
    spec: { engine: 'postgres', replicas: 1, storage: { size: '1Gi' }, ...spec },
  };
}

export function attributes(overrides: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  const object = overrides.object ?? database();
  return {
    operation: 'CREATE',
    resource: { group: 'strongroom.dev', version: 'v1alpha1', resource: 'databases' },
    subresource: '',
    kind: { group: 'strongroom.dev', version: 'v1alpha1', kind: 'Database' },
    namespace: object.metadata.namespace ?? 'prod',
    name: object.metadata.name ?? '',
    object,
    dryRun: false,
    userInfo: { name: 'alice', groups: ['dev', 'system:authenticated'], extra: {} },
    ...overrides,
  };
}

export function cacheOf<T extends KubeObject>(items: T[]): ObjectCache<T> {
  const cache = new ObjectCache<T>();
  cache.replace(items);
  return cache;
}

/** The namespaces `prod` (env=prod) and `dev` (env=dev). */
export const namespaces: NamespaceLookup = {
  async get(name) {
    if (name !== 'prod' && name !== 'dev') return undefined;
    return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { env: name }, managedFields: [] } };
  },
};

/** The StatusError a plugin refused the request with; fails the test when it admitted it. */
export async function refusal(promise: Promise<unknown>): Promise<StatusError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StatusError, String(error));
    return error;
  }
  assert.fail('the request was admitted');
}
