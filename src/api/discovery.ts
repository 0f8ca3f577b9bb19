// Discovery documents of strongroom.dev, derived from `resources` (checklist §1): the legacy APIResourceList,
// APIGroup and APIGroupList, and the aggregated apidiscovery.k8s.io/v2 list the aggregator fetches from `/apis`.
import { createHash } from 'node:crypto';
import type { ResourceDefinition } from './definition.ts';
import { GROUP, GROUP_VERSION, VERSION } from './meta.ts';
import { resources } from './resources.ts';

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** The verbs of a top-level resource; the generic registry serves all of them for every resource. */
const RESOURCE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
/** status and scale: GET, PUT, PATCH. */
const SUBRESOURCE_VERBS = ['get', 'patch', 'update'];
/** Action subresources are POST-only ("named creaters"), so RBAC grants `create` on e.g. databases/backup. */
const ACTION_VERBS = ['create'];

const SCALE_GVK: GroupVersionKind = { group: 'autoscaling', version: 'v1', kind: 'Scale' };

interface Subresource {
  name: string;
  gvk: GroupVersionKind;
  verbs: string[];
}

/** A resource's subresources, sorted by name as the Go server sorts its paths. */
function subresourcesOf(r: ResourceDefinition): Subresource[] {
  const own = (kind: string): GroupVersionKind => ({ group: r.group, version: r.version, kind });
  const subresources: Subresource[] = [];
  if (r.subresources.status) subresources.push({ name: 'status', gvk: own(r.kind), verbs: SUBRESOURCE_VERBS });
  if (r.subresources.scale) subresources.push({ name: 'scale', gvk: { ...SCALE_GVK }, verbs: SUBRESOURCE_VERBS });
  for (const [name, action] of Object.entries(r.subresources.actions)) {
    subresources.push({ name, gvk: own(action.kind), verbs: ACTION_VERBS });
  }
  return subresources.sort((a, b) => a.name.localeCompare(b.name));
}

const byPluralName = (a: ResourceDefinition, b: ResourceDefinition) => a.plural.localeCompare(b.plural);

/** `discovery.StorageVersionHash`: base64 of the first 8 bytes of SHA-256 of "group/version/kind". */
export function storageVersionHash(group: string, version: string, kind: string): string {
  return createHash('sha256').update(`${group}/${version}/${kind}`).digest().subarray(0, 8).toString('base64');
}

/** `GET /apis/strongroom.dev/v1alpha1`: the legacy discovery document, and the aggregator's availability probe. */
export function apiResourceList() {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: [...resources].sort(byPluralName).flatMap((r) => [
      {
        name: r.plural,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: [...RESOURCE_VERBS],
        ...(r.shortNames.length > 0 ? { shortNames: [...r.shortNames] } : {}),
        ...(r.categories.length > 0 ? { categories: [...r.categories] } : {}),
        storageVersionHash: storageVersionHash(r.group, r.version, r.kind),
      },
      ...subresourcesOf(r).map((s) => ({
        name: `${r.plural}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        // group and version only where they differ from the list's, as the Go server writes them (Scale).
        ...(s.gvk.group !== r.group || s.gvk.version !== r.version ? { group: s.gvk.group, version: s.gvk.version } : {}),
        kind: s.gvk.kind,
        verbs: [...s.verbs],
      })),
    ]),
  };
}

function groupVersion() {
  return { groupVersion: GROUP_VERSION, version: VERSION };
}

/** `GET /apis/strongroom.dev` (the aggregator serves its own; this is for direct clients). */
export function apiGroup() {
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupWithoutType() };
}

function groupWithoutType() {
  return { name: GROUP, versions: [groupVersion()], preferredVersion: groupVersion() };
}

/** `GET /apis` as plain JSON: the groups this server serves. */
export function apiGroupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [groupWithoutType()] };
}

/** The media type of `aggregatedDiscovery()`; a response must carry it for the aggregator to accept the body. */
export const AGGREGATED_DISCOVERY_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** `GET /apis` asking for apidiscovery.k8s.io/v2: every resource and subresource of every version in one document. */
export function aggregatedDiscovery() {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: [
      {
        metadata: { name: GROUP },
        versions: [
          {
            version: VERSION,
            resources: [...resources].sort(byPluralName).map((r) => ({
              resource: r.plural,
              responseKind: { group: r.group, version: r.version, kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singular,
              verbs: [...RESOURCE_VERBS],
              ...(r.shortNames.length > 0 ? { shortNames: [...r.shortNames] } : {}),
              ...(r.categories.length > 0 ? { categories: [...r.categories] } : {}),
              subresources: subresourcesOf(r).map((s) => ({
                subresource: s.name,
                responseKind: { ...s.gvk },
                acceptedTypes: [{ ...s.gvk }],
                verbs: [...s.verbs],
              })),
            })),
            freshness: 'Current',
          },
        ],
      },
    ],
  };
}

/** The quoted ETag of a discovery document: upper-case hex SHA-512 of its JSON, as aggregated/etag.go computes it. */
export function discoveryETag(doc: unknown): string {
  return `"${createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase()}"`;
}
