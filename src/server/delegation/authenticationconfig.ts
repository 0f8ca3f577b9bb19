// The front-proxy and client-certificate settings kube-apiserver publishes in ConfigMap
// kube-system/extension-apiserver-authentication (checklist §7.3), parsed, and kept current by a watch so CA
// rotations and new allowed names apply without a restart.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RequestHeaderConfig } from '../authentication.ts';
import { parseCertificateBundle } from '../pki.ts';
import { startInformer } from './informer.ts';
import { withTimeout } from './kubeapi.ts';

export const AUTHENTICATION_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

export interface ClusterAuthentication {
  /** `client-ca-file` (PEM): signs the certificates of ordinary users; empty when the cluster publishes none. */
  clientCA: string[];
  /** The front proxy's settings; undefined when the cluster publishes no `requestheader-client-ca-file`. */
  requestHeader: RequestHeaderConfig | undefined;
}

/** Throws on a malformed value: a half-understood trust configuration is worse than the previous one. */
export function parseClusterAuthentication(data: Record<string, string> | undefined = {}): ClusterAuthentication {
  const requestHeaderCA = certificates(data, 'requestheader-client-ca-file');
  return {
    clientCA: certificates(data, 'client-ca-file'),
    requestHeader:
      requestHeaderCA.length === 0
        ? undefined
        : {
            ca: requestHeaderCA,
            allowedNames: stringList(data, 'requestheader-allowed-names'),
            usernameHeaders: stringList(data, 'requestheader-username-headers'),
            uidHeaders: stringList(data, 'requestheader-uid-headers'),
            groupHeaders: stringList(data, 'requestheader-group-headers'),
            extraHeaderPrefixes: stringList(data, 'requestheader-extra-headers-prefix'),
          },
  };
}

function certificates(data: Record<string, string>, key: string): string[] {
  const pem = data[key];
  if (!pem) return [];
  let count: number;
  try {
    count = parseCertificateBundle(pem).length;
  } catch (error) {
    throw new Error(`${key}: ${(error as Error).message}`);
  }
  if (count === 0) throw new Error(`${key}: no PEM certificate`);
  return [pem];
}

/** List-valued keys hold JSON arrays in strings (`["X-Remote-User"]`), as upstream's `deserializeStrings` reads them. */
function stringList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((value) => typeof value === 'string')) {
    throw new Error(`${key}: not a JSON array of strings: ${raw}`);
  }
  return parsed;
}

export interface ClusterAuthenticationSource {
  /** The settings as last read; undefined until the ConfigMap has been read once. */
  current(): ClusterAuthentication | undefined;
  /** Called after each change of the settings. */
  onChange(listener: (settings: ClusterAuthentication) => void): void;
  stop(): Promise<void>;
}

/**
 * Watches the one ConfigMap by a field selector on its name: the `extension-apiserver-authentication-reader` role
 * grants get/list/watch on that name only, so an unfiltered list would be forbidden.
 */
export function watchClusterAuthentication(kubeConfig: KubeConfig, logger: Logger): ClusterAuthenticationSource {
  const { namespace, name } = AUTHENTICATION_CONFIGMAP;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${name}`;
  const log = logger.child({ configMap: `${namespace}/${name}` });
  const informer = startInformer<V1ConfigMap>(kubeConfig, {
    name,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace, fieldSelector }, withTimeout()),
    fieldSelector,
    logger: log,
  });

  let current: ClusterAuthentication | undefined;
  const listeners: Array<(settings: ClusterAuthentication) => void> = [];
  informer.onChange((configMap) => {
    let next: ClusterAuthentication;
    try {
      next = parseClusterAuthentication(configMap.data);
    } catch (error) {
      log.error({ error: (error as Error).message }, 'ignoring an unreadable authentication ConfigMap; the previous settings stay');
      return;
    }
    if (JSON.stringify(next) === JSON.stringify(current)) return;
    current = next;
    log.info(
      { frontProxy: Boolean(next.requestHeader), allowedNames: next.requestHeader?.allowedNames, clientCA: next.clientCA.length > 0 },
      'authentication settings loaded',
    );
    for (const listener of listeners) listener(next);
  });

  return {
    current: () => current,
    onChange: (listener) => void listeners.push(listener),
    stop: () => informer.stop(),
  };
}
