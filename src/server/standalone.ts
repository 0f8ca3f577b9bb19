// What kubectl expects of a whole cluster when it talks to Strongroom alone: the core group exists (kubectl maps
// `kind: List` through it) and every namespace exists (kubectl looks one up after a 404). Behind kube-apiserver none
// of this is asked of us.

export function coreAPIVersions(standalone: boolean) {
  return { kind: 'APIVersions', versions: standalone ? ['v1'] : [], serverAddressByClientCIDRs: [] };
}

export function coreAggregatedDiscovery(standalone: boolean) {
  const items = standalone ? [{ metadata: {}, versions: [{ version: 'v1', resources: [], freshness: 'Current' }] }] : [];
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}

/** `/api/v1`: no core resources are served, but the version is there for kubectl's REST mapper. */
export const coreResourceList = { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'v1', resources: [] };

const NAMESPACE_PATH = /^\/api\/v1\/namespaces\/([^/]+)$/;

/** The Namespace object for `GET /api/v1/namespaces/<name>`, or undefined for any other path. */
export function implicitNamespace(path: string) {
  const name = NAMESPACE_PATH.exec(path)?.[1];
  if (!name) return undefined;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}
