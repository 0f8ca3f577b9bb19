// The parameter objects a binding hands its policy (upstream's CollectParams): found by `paramRef` among the objects
// of the policy's `paramKind`, which an informer per kind keeps, started the first time a binding needs it.
import type { Logger } from 'pino';
import type { KubeObject } from '../../api/meta.ts';
import { ClusterInformer } from '../../controller/runtime/informer.ts';
import { isStatusError, type KubeClient } from '../../controller/runtime/client.ts';
import { resourcePath, type ResourceType } from '../../controller/runtime/kinds.ts';
import { selectorMatches } from '../matching/selectors.ts';
import type { ParamKind, ParamRef } from '../registration.ts';

/** How long a request waits for a new param informer's first list (upstream's value). */
const SYNC_WAIT_MS = 1000;

export interface ParamSource {
  /**
   * The params for one binding: `[null]` when the policy takes none or the binding names none, an empty list when
   * none were found and that is allowed. Throws with the reason when the binding cannot be configured.
   */
  collect(kind: ParamKind | undefined, ref: ParamRef | undefined, namespace: string): Promise<(KubeObject | null)[]>;
  stop(): Promise<void>;
}

interface APIResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

const describe = (kind: ParamKind) => `${kind.apiVersion}, Kind=${kind.kind}`;

export function paramSource(client: KubeClient, logger: Logger): ParamSource {
  const informers = new Map<string, Promise<{ type: ResourceType; informer: ClusterInformer }>>();

  /** The resource that serves `kind`, from discovery, and its informer. */
  const informerFor = (kind: ParamKind) => {
    const key = `${kind.apiVersion}/${kind.kind}`;
    let found = informers.get(key);
    if (!found) {
      found = (async () => {
        const [group, version] = kind.apiVersion.includes('/') ? kind.apiVersion.split('/') : ['', kind.apiVersion];
        const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
        const list = await client.request<APIResourceList>('GET', path);
        const resource = list.resources.find((r) => r.kind === kind.kind && !r.name.includes('/'));
        if (!resource) throw new Error(`paramKind kind \`${describe(kind)}\` not known`);
        const type: ResourceType = { group: group!, version: version!, kind: kind.kind, plural: resource.name, namespaced: resource.namespaced };
        const informer = new ClusterInformer({ client, type, logger });
        informer.start();
        return { type, informer };
      })();
      // A failed discovery is tried again by the next request rather than remembered.
      found.catch(() => informers.delete(key));
      informers.set(key, found);
    }
    return found;
  };

  return {
    async collect(kind, ref, namespace) {
      if (!kind || !ref) return [null];
      const { type, informer } = await informerFor(kind);
      let paramsNamespace: string | undefined;
      if (type.namespaced) {
        paramsNamespace = ref.namespace || namespace;
        if (!paramsNamespace) throw new Error('cannot use namespaced paramRef in policy binding that matches cluster-scoped resources');
      } else if (ref.namespace) {
        throw new Error('paramRef.namespace must not be provided for a cluster-scoped `paramKind`');
      }
      if (!informer.hasSynced()) {
        const wait = AbortSignal.timeout(SYNC_WAIT_MS);
        await informer.waitForSync(wait).catch(() => {
          throw new Error(`paramKind kind \`${describe(kind)}\` not yet synced to use for admission`);
        });
      }

      let params: KubeObject[];
      if (ref.name) {
        // The cache may trail a param created a moment ago: ask the cluster before calling it missing.
        let param = informer.get(paramsNamespace, ref.name);
        if (!param) {
          try {
            param = await client.request<KubeObject>('GET', resourcePath(type, paramsNamespace, ref.name));
          } catch (error) {
            if (!isStatusError(error, 404)) throw error;
          }
        }
        params = param ? [param] : [];
      } else {
        params = informer.list(paramsNamespace).filter((p) => selectorMatches(ref.selector, p.metadata.labels));
      }
      if (params.length === 0 && ref.parameterNotFoundAction === 'Deny') {
        throw new Error('no params found for policy binding with `Deny` parameterNotFoundAction');
      }
      return params;
    },
    async stop() {
      const started = await Promise.allSettled(informers.values());
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.informer.stop() : undefined)));
    },
  };
}
