// Whether Strongroom runs standalone or in cluster mode, and against which cluster: a kubeconfig named on the command
// line, else the pod's service account. Never client-node's `loadFromDefault()`, which silently falls back to
// http://localhost:8080 when it finds nothing, and would make a misconfigured server look like a working one.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The cluster to delegate to, or undefined for standalone mode. `serviceAccountRoot` prefixes the service-account
 * paths (tests point it at a temporary directory; client-node's `loadFromCluster` takes the same prefix).
 */
export function loadClusterConfig(kubeconfigFile: string | undefined, serviceAccountRoot = ''): KubeConfig | undefined {
  const config = new KubeConfig();
  if (kubeconfigFile) {
    config.loadFromFile(kubeconfigFile);
    if (!config.getCurrentCluster()) throw new Error(`--kubeconfig ${kubeconfigFile}: the current context names no cluster`);
    return config;
  }
  if (process.env['KUBERNETES_SERVICE_HOST'] && existsSync(`${serviceAccountRoot}${SERVICE_ACCOUNT_TOKEN}`)) {
    config.loadFromCluster(serviceAccountRoot);
    return config;
  }
  return undefined;
}
