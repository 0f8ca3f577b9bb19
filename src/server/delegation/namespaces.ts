// The cluster's namespaces for the NamespaceLifecycle admission plugin (src/admission/namespacelifecycle.ts): a cache
// of all namespaces (list+watch), and a live lookup for a namespace the cache has not seen yet.
import { CoreV1Api, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { NamespaceLister } from '../../admission/namespacelifecycle.ts';
import { startInformer } from './informer.ts';
import { describeError, statusCode, withTimeout } from './kubeapi.ts';

export interface ClusterNamespaces extends NamespaceLister {
  stop(): Promise<void>;
}

export function clusterNamespaces(kubeConfig: KubeConfig, logger: Logger): ClusterNamespaces {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const informer = startInformer<V1Namespace>(kubeConfig, {
    name: 'namespaces',
    path: '/api/v1/namespaces',
    list: () => core.listNamespace({}, withTimeout()),
    logger,
  });
  return {
    hasSynced: () => informer.hasSynced(),
    cached: (name) => informer.get(name),
    async read(name) {
      try {
        return await core.readNamespace({ name }, withTimeout());
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw new Error(describeError(error));
      }
    },
    stop: () => informer.stop(),
  };
}
