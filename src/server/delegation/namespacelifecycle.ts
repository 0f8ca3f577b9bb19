// The NamespaceLifecycle admission check of k8s.io/apiserver for the cluster's namespaces: no new objects in a
// namespace that does not exist (404) or is being deleted (403). Without it, a Database created while its namespace
// terminates would outlive the namespace controller's sweep and reappear when a namespace of that name is created.
import { CoreV1Api, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { StatusError, forbidden, internalError, notFound } from '../../api/errors.ts';
import type { AdmitCreate, CreateAttributes } from '../../registry/store.ts';
import { startInformer } from './informer.ts';
import { describeError, statusCode, withTimeout } from './kubeapi.ts';

/** How long a create waits for the cache to catch up with a namespace created a moment ago (upstream's value). */
const MISSING_NAMESPACE_WAIT_MS = 50;

export interface NamespaceLifecycle {
  admitCreate: AdmitCreate;
  /** True once the namespace cache is filled; creates are refused until then. */
  hasSynced(): boolean;
  stop(): Promise<void>;
}

/**
 * Answers from a cache of all namespaces (list+watch); a namespace the cache has not seen is looked up live before
 * the create is refused, since the cache may trail the cluster.
 */
export function namespaceLifecycle(kubeConfig: KubeConfig, logger: Logger): NamespaceLifecycle {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const informer = startInformer<V1Namespace>(kubeConfig, {
    name: 'namespaces',
    path: '/api/v1/namespaces',
    list: () => core.listNamespace({}, withTimeout()),
    logger,
  });

  const lookup = async (name: string): Promise<V1Namespace> => {
    let cached = informer.get(name);
    if (!cached) {
      await new Promise((resolve) => setTimeout(resolve, MISSING_NAMESPACE_WAIT_MS));
      cached = informer.get(name);
    }
    if (cached) return cached;
    try {
      return await core.readNamespace({ name }, withTimeout());
    } catch (error) {
      if (statusCode(error) === 404) throw notFound({ group: '', resource: 'namespaces' }, name);
      throw internalError(`looking up namespace ${JSON.stringify(name)}: ${describeError(error)}`);
    }
  };

  return {
    async admitCreate(attributes) {
      if (!informer.hasSynced()) throw refused(attributes, 'not yet ready to handle request');
      const namespace = await lookup(attributes.namespace);
      if (namespace.status?.phase === 'Terminating') {
        const error = refused(attributes, `unable to create new content in namespace ${attributes.namespace} because it is being terminated`);
        error.details!.causes = [
          { reason: 'NamespaceTerminating', message: `namespace ${attributes.namespace} is being terminated`, field: 'metadata.namespace' },
        ];
        throw error;
      }
    },
    hasSynced: () => informer.hasSynced(),
    stop: () => informer.stop(),
  };
}

/** admission.NewForbidden: `databases.strongroom.dev "a" is forbidden: <why>`. */
function refused({ resource, name }: CreateAttributes, why: string): StatusError {
  const qualified = resource.group ? `${resource.resource}.${resource.group}` : resource.resource;
  return forbidden(resource, name, `${qualified} ${JSON.stringify(name)} is forbidden: ${why}`);
}
