// NamespaceLifecycle, a mutating plugin as in k8s.io/apiserver (so it runs before anything else looks at the object):
// no new objects in a namespace that does not exist (404) or is being deleted (403). Without it, a Database created
// while its namespace terminates would outlive the namespace controller's sweep and reappear when a namespace of that
// name is created. Updates and deletes are always let through, as upstream.
import { StatusError, internalError, notFound } from '../api/errors.ts';
import { admissionForbidden } from './forbidden.ts';
import type { MutatingAdmissionPlugin } from './interface.ts';

/** What the plugin needs of a namespace. */
export interface Namespace {
  status?: { phase?: string };
}

/** The cluster's namespaces: a cache (list+watch) with a live lookup behind it. */
export interface NamespaceLister {
  /** True once the cache is filled; creates are refused until then. */
  hasSynced(): boolean;
  /** From the cache; undefined when it has not seen the namespace. */
  cached(name: string): Namespace | undefined;
  /** From the cluster; undefined when there is no such namespace. */
  read(name: string): Promise<Namespace | undefined>;
}

/** How long a create waits for the cache to catch up with a namespace created a moment ago (upstream's value). */
const MISSING_NAMESPACE_WAIT_MS = 50;

export function namespaceLifecycle(namespaces: NamespaceLister, missingNamespaceWaitMs = MISSING_NAMESPACE_WAIT_MS): MutatingAdmissionPlugin {
  const lookup = async (name: string): Promise<Namespace> => {
    let found = namespaces.cached(name);
    if (!found) {
      await new Promise((resolve) => setTimeout(resolve, missingNamespaceWaitMs));
      // The cache may trail the cluster: a namespace it has not seen is looked up live before the create is refused.
      found = namespaces.cached(name) ?? (await readLive(namespaces, name));
    }
    if (!found) throw notFound({ group: '', resource: 'namespaces' }, name);
    return found;
  };
  return {
    name: 'NamespaceLifecycle',
    handles: (a) => a.operation === 'CREATE' && a.namespace !== '',
    async admit(a) {
      if (!namespaces.hasSynced()) throw admissionForbidden(a, 'not yet ready to handle request');
      const namespace = await lookup(a.namespace);
      if (namespace.status?.phase === 'Terminating') {
        const error = admissionForbidden(a, `unable to create new content in namespace ${a.namespace} because it is being terminated`);
        error.details!.causes = [{ reason: 'NamespaceTerminating', message: `namespace ${a.namespace} is being terminated`, field: 'metadata.namespace' }];
        throw error;
      }
      return {};
    },
  };
}

async function readLive(namespaces: NamespaceLister, name: string): Promise<Namespace | undefined> {
  try {
    return await namespaces.read(name);
  } catch (error) {
    if (error instanceof StatusError) throw error;
    throw internalError(`looking up namespace ${JSON.stringify(name)}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
