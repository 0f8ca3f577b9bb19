// The resource types the controller reads and writes, with their URL paths. A fixed map rather than discovery: the
// set is small and known at build time, and discovery would cost a request per apiVersion at start-up and a failure
// mode (an unavailable aggregated API hides its group from discovery) for no gain.
import { resources } from '../../api/resources.ts';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

function builtin(groupVersion: string, kind: string, plural: string, namespaced = true): ResourceType {
  const [group, version] = groupVersion.includes('/') ? groupVersion.split('/') : ['', groupVersion];
  return { group, version, kind, plural, namespaced };
}

export const resourceTypes = {
  Namespace: builtin('v1', 'Namespace', 'namespaces', false),
  ConfigMap: builtin('v1', 'ConfigMap', 'configmaps'),
  Secret: builtin('v1', 'Secret', 'secrets'),
  Service: builtin('v1', 'Service', 'services'),
  PersistentVolumeClaim: builtin('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  ServiceAccount: builtin('v1', 'ServiceAccount', 'serviceaccounts'),
  RoleBinding: builtin('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'),
  Pod: builtin('v1', 'Pod', 'pods'),
  StatefulSet: builtin('apps/v1', 'StatefulSet', 'statefulsets'),
  Job: builtin('batch/v1', 'Job', 'jobs'),
  PodDisruptionBudget: builtin('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  NetworkPolicy: builtin('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies'),
  Lease: builtin('coordination.k8s.io/v1', 'Lease', 'leases'),
  Event: builtin('events.k8s.io/v1', 'Event', 'events'),
} as const satisfies Record<string, ResourceType>;

const own: ResourceType[] = resources.map((def) => ({
  group: def.group,
  version: def.version,
  kind: def.kind,
  plural: def.plural,
  namespaced: def.namespaced,
}));

const byApiVersionKind = new Map<string, ResourceType>(
  [...Object.values(resourceTypes), ...own].map((type) => [`${apiVersionOf(type)}/${type.kind}`, type]),
);

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** The type of objects with this apiVersion and kind; throws for a type the controller does not know. */
export function resourceTypeOf(apiVersion: string, kind: string): ResourceType {
  const type = byApiVersionKind.get(`${apiVersion}/${kind}`);
  if (!type) throw new Error(`unknown resource type ${kind} (${apiVersion}): add it to src/controller/runtime/kinds.ts`);
  return type;
}

/**
 * `/api/v1/namespaces/ns/configmaps/name` and its variants: without `name` the collection, and without `namespace`
 * the collection across all namespaces (or a cluster-scoped type's).
 */
export function resourcePath(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const root = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const scope = type.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  if (type.namespaced && name !== undefined && namespace === undefined) {
    throw new Error(`${type.kind} ${name}: a namespaced object's path needs its namespace`);
  }
  const item = name === undefined ? '' : `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
  return `${root}${scope}/${type.plural}${item}`;
}
