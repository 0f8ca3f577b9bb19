// The finalizer helper's store over a KubeClient, for the tests that drive it against a real API server.
import type { KubeObject } from '../../../src/api/meta.ts';
import type { FinalizerStore } from '../../../src/controller/runtime/apply.ts';
import { isStatusError, type KubeClient } from '../../../src/controller/runtime/client.ts';
import { resourcePath, type ResourceType } from '../../../src/controller/runtime/kinds.ts';

export function clientStore<T extends KubeObject>(client: KubeClient, type: ResourceType): FinalizerStore<T> {
  return {
    async get(namespace, name) {
      try {
        return await client.request<T>('GET', resourcePath(type, namespace, name));
      } catch (err) {
        if (isStatusError(err, 404)) return undefined;
        throw err;
      }
    },
    patch(obj, operations) {
      return client.request<T>('PATCH', resourcePath(type, obj.metadata.namespace, obj.metadata.name!), {
        body: operations,
        contentType: 'application/json-patch+json',
      });
    },
  };
}
