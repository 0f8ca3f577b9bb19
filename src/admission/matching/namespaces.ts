// The namespaces admission matches against (namespaceSelector) and shows to CEL (namespaceObject): a cache of the
// cluster's namespaces, with a live read for one the cache has not seen yet, as upstream's namespace matcher does.
import type { KubeObject } from '../../api/meta.ts';
import { isStatusError, type KubeClient } from '../../controller/runtime/client.ts';
import type { Informer } from '../../controller/runtime/cache.ts';
import { resourcePath, resourceTypes } from '../../controller/runtime/kinds.ts';

export interface NamespaceLookup {
  /** The namespace, or undefined when the cluster has none of that name. */
  get(name: string): Promise<KubeObject | undefined>;
}

export function namespaceLookup(informer: Informer, client: KubeClient): NamespaceLookup {
  return {
    async get(name) {
      const cached = informer.get(undefined, name);
      if (cached) return cached;
      try {
        return await client.request<KubeObject>('GET', resourcePath(resourceTypes.Namespace, undefined, name));
      } catch (error) {
        if (isStatusError(error, 404)) return undefined;
        throw error;
      }
    },
  };
}
