// The OpenAPI documents of strongroom.dev/v1alpha1, derived from `resources`: v3 for /openapi/v3/apis/strongroom.dev/
// v1alpha1 (kubectl explain, apply and field validation read it) and Swagger 2.0 for /openapi/v2 (the aggregator merges
// it into the cluster's document). Both are built from one list of routes, shaped as kube-apiserver publishes CRDs:
// GVK on every operation, `x-kubernetes-action`, and no strategic merge patch (checklist §2).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  OpenApiBuilder,
  type OperationObject,
  type ParameterObject,
  type PathItemObject,
  type ReferenceObject,
  type SchemaObject,
} from 'openapi3-ts/oas30';
import type { JSONSchemaProps, ResourceDefinition } from './definition.ts';
import { GROUP, VERSION } from './meta.ts';
import { kubernetesSchemas } from './openapi-kubernetes.ts';
import { resources } from './resources.ts';
import { ConditionSchema, METADATA_DESCRIPTION, toJSONSchemaProps } from './schema.ts';

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Action = 'get' | 'list' | 'post' | 'put' | 'patch' | 'delete' | 'deletecollection';

/** One operation, in terms both document versions can render. Schemas are named, never embedded. */
interface Operation {
  method: Method;
  action: Action;
  operationId: string;
  description: string;
  gvk: GroupVersionKind;
  query: QueryParameter[];
  body?: { schema: string; required: boolean; contentTypes: readonly string[] };
  responses: { code: string; description: string; schema: string }[];
  produces: readonly string[];
}

interface Route {
  path: string;
  /** Parameters shared by the route's operations: path parameters, `pretty`, and for all-namespace lists the rest. */
  parameters: Parameter[];
  operations: Operation[];
}

type QueryParameter = keyof typeof QUERY_PARAMETERS;

interface Parameter {
  name: string;
  in: 'path' | 'query';
  type: 'string' | 'integer' | 'boolean';
  description: string;
}

// Descriptions are Kubernetes' own (k8s.io/apimachinery ListOptions, CreateOptions, PatchOptions, DeleteOptions).
const QUERY_PARAMETERS = {
  allowWatchBookmarks: {
    type: 'boolean',
    description:
      'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server\'s discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.',
  },
  continue: {
    type: 'string',
    description:
      'The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the "next key".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications.',
  },
  dryRun: {
    type: 'string',
    description:
      'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed',
  },
  fieldManager: {
    type: 'string',
    description:
      'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.',
  },
  fieldManagerForPatch: {
    type: 'string',
    description:
      'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).',
  },
  fieldSelector: {
    type: 'string',
    description: 'A selector to restrict the list of returned objects by their fields. Defaults to everything.',
  },
  fieldValidation: {
    type: 'string',
    description:
      'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.',
  },
  force: {
    type: 'boolean',
    description:
      'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.',
  },
  gracePeriodSeconds: {
    type: 'integer',
    description:
      'The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.',
  },
  labelSelector: {
    type: 'string',
    description: 'A selector to restrict the list of returned objects by their labels. Defaults to everything.',
  },
  limit: {
    type: 'integer',
    description:
      'limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned.',
  },
  orphanDependents: {
    type: 'boolean',
    description:
      'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the "orphan" finalizer will be added to/removed from the object\'s finalizers list. Either this field or PropagationPolicy may be set, but not both.',
  },
  pretty: {
    type: 'string',
    description:
      "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
  },
  propagationPolicy: {
    type: 'string',
    description:
      "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
  },
  resourceVersion: {
    type: 'string',
    description:
      'resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset',
  },
  resourceVersionMatch: {
    type: 'string',
    description:
      'resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset',
  },
  sendInitialEvents: {
    type: 'boolean',
    description:
      '`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic "Bookmark" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `"k8s.io/initial-events-end": "true"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as "data at least as new as the provided `resourceVersion`"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as "consistent read" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=""` or `resourceVersion="0"` (for backward compatibility reasons) and to false otherwise.',
  },
  timeoutSeconds: {
    type: 'integer',
    description: 'Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.',
  },
  watch: {
    type: 'boolean',
    description:
      'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.',
  },
} as const satisfies Record<string, Omit<Parameter, 'name' | 'in'>>;

const LIST_QUERY: QueryParameter[] = [
  'allowWatchBookmarks',
  'continue',
  'fieldSelector',
  'labelSelector',
  'limit',
  'resourceVersion',
  'resourceVersionMatch',
  'sendInitialEvents',
  'timeoutSeconds',
  'watch',
];
const WRITE_QUERY: QueryParameter[] = ['dryRun', 'fieldManager', 'fieldValidation'];
const PATCH_QUERY: QueryParameter[] = ['dryRun', 'fieldManagerForPatch', 'fieldValidation', 'force'];
const DELETE_QUERY: QueryParameter[] = ['dryRun', 'gracePeriodSeconds', 'orphanDependents', 'propagationPolicy'];
const DELETE_COLLECTION_QUERY: QueryParameter[] = [
  'continue',
  'dryRun',
  'fieldSelector',
  'gracePeriodSeconds',
  'labelSelector',
  'limit',
  'orphanDependents',
  'propagationPolicy',
  'resourceVersion',
  'resourceVersionMatch',
  'sendInitialEvents',
  'timeoutSeconds',
];

/** Strategic merge patch is deliberately absent: kubectl would send SMP, which a non-Go server cannot apply. */
export const PATCH_CONTENT_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'] as const;
const OBJECT_CONTENT_TYPES = ['application/json', 'application/yaml'] as const;
const LIST_CONTENT_TYPES = ['application/json', 'application/json;stream=watch', 'application/yaml'] as const;
const ANY_CONTENT_TYPE = ['*/*'] as const;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const SCALE = 'io.k8s.api.autoscaling.v1.Scale';
const SCALE_GVK: GroupVersionKind = { group: 'autoscaling', version: 'v1', kind: 'Scale' };

/** `strongroom.dev` → `dev.strongroom`, the prefix kube-apiserver gives CRD schema names. */
export function schemaName(kind: string, group = GROUP, version = VERSION): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** `strongroom.dev` → `StrongroomDev`, as operation IDs spell a group. */
const camelGroup = (group: string) => group.split(/[.-]/).map(upperFirst).join('');
const TAG = `${camelGroup(GROUP).charAt(0).toLowerCase()}${camelGroup(GROUP).slice(1)}_${VERSION}`;

function pathParameter(name: 'name' | 'namespace', kind: string): Parameter {
  const description = name === 'name' ? `name of the ${kind}` : 'object name and auth scope, such as for teams and projects';
  return { name, in: 'path', type: 'string', description };
}

function queryParameter(key: QueryParameter): Parameter {
  const { type, description } = QUERY_PARAMETERS[key];
  return { name: key === 'fieldManagerForPatch' ? 'fieldManager' : key, in: 'query', type, description };
}

function written(kind: string, codes: string[]): Operation['responses'] {
  const descriptions: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };
  return codes.map((code) => ({ code, description: descriptions[code] as string, schema: kind }));
}

/** The verbs on one object (an item or its status or scale), in the order its route lists them. */
const OBJECT_VERBS: readonly {
  method: 'get' | 'put' | 'patch';
  /** How operation IDs name the verb. */
  id: string;
  description: string;
  query: QueryParameter[];
  /** The request body, given the object's schema. */
  body?: (schema: string) => Operation['body'];
  codes: string[];
}[] = [
  { method: 'get', id: 'read', description: 'read', query: [], codes: ['200'] },
  {
    method: 'put',
    id: 'replace',
    description: 'replace',
    query: WRITE_QUERY,
    body: (schema) => ({ schema, required: true, contentTypes: ANY_CONTENT_TYPE }),
    codes: ['200', '201'],
  },
  {
    method: 'patch',
    id: 'patch',
    description: 'partially update',
    query: PATCH_QUERY,
    body: () => ({ schema: `${META}.Patch`, required: true, contentTypes: PATCH_CONTENT_TYPES }),
    codes: ['200', '201'],
  },
];

/** The routes of one resource: collections, items, status, scale and actions. */
function routesOf(r: ResourceDefinition): Route[] {
  const id = `${camelGroup(r.group)}${upperFirst(r.version)}`;
  const gvk = { group: r.group, version: r.version, kind: r.kind };
  const object = schemaName(r.kind, r.group, r.version);
  const list = schemaName(r.listKind, r.group, r.version);
  const base = `/apis/${r.group}/${r.version}`;
  const collection = `${base}/namespaces/{namespace}/${r.plural}`;
  const item = `${collection}/{name}`;
  const pretty = queryParameter('pretty');
  const itemParameters = (kind: string) => [pathParameter('name', kind), pathParameter('namespace', kind), queryParameter('pretty')];

  /** get, put and patch of the object, or of its subresource when `suffix` and `what` name one (status, scale). */
  const objectOperations = (suffix: string, what: string, schema: string, opGvk: GroupVersionKind): Operation[] =>
    OBJECT_VERBS.map((verb) => ({
      method: verb.method,
      action: verb.method,
      operationId: `${verb.id}${id}Namespaced${r.kind}${suffix}`,
      description: `${verb.description} ${what}the specified ${r.kind}`,
      gvk: opGvk,
      query: verb.query,
      ...(verb.body ? { body: verb.body(schema) } : {}),
      responses: written(schema, verb.codes),
      produces: OBJECT_CONTENT_TYPES,
    }));

  const routes: Route[] = [
    {
      path: `${base}/${r.plural}`,
      parameters: [...LIST_QUERY, 'pretty' as const].sort().map(queryParameter),
      operations: [
        {
          method: 'get',
          action: 'list',
          operationId: `list${id}${r.kind}ForAllNamespaces`,
          description: `list or watch objects of kind ${r.kind}`,
          gvk,
          query: [],
          responses: written(list, ['200']),
          produces: LIST_CONTENT_TYPES,
        },
      ],
    },
    {
      path: collection,
      parameters: [pathParameter('namespace', r.kind), pretty],
      operations: [
        {
          method: 'get',
          action: 'list',
          operationId: `list${id}Namespaced${r.kind}`,
          description: `list or watch objects of kind ${r.kind}`,
          gvk,
          query: LIST_QUERY,
          responses: written(list, ['200']),
          produces: LIST_CONTENT_TYPES,
        },
        {
          method: 'post',
          action: 'post',
          operationId: `create${id}Namespaced${r.kind}`,
          description: `create a ${r.kind}`,
          gvk,
          query: WRITE_QUERY,
          body: { schema: object, required: true, contentTypes: ANY_CONTENT_TYPE },
          responses: written(object, ['200', '201', '202']),
          produces: OBJECT_CONTENT_TYPES,
        },
        {
          method: 'delete',
          action: 'deletecollection',
          operationId: `delete${id}CollectionNamespaced${r.kind}`,
          description: `delete collection of ${r.kind}`,
          gvk,
          query: DELETE_COLLECTION_QUERY,
          body: { schema: `${META}.DeleteOptions`, required: false, contentTypes: ANY_CONTENT_TYPE },
          responses: written(`${META}.Status`, ['200']),
          produces: OBJECT_CONTENT_TYPES,
        },
      ],
    },
    {
      path: item,
      parameters: itemParameters(r.kind),
      operations: [
        ...objectOperations('', '', object, gvk),
        {
          method: 'delete',
          action: 'delete',
          operationId: `delete${id}Namespaced${r.kind}`,
          description: `delete a ${r.kind}`,
          gvk,
          query: DELETE_QUERY,
          body: { schema: `${META}.DeleteOptions`, required: false, contentTypes: ANY_CONTENT_TYPE },
          responses: written(`${META}.Status`, ['200', '202']),
          produces: OBJECT_CONTENT_TYPES,
        },
      ],
    },
  ];
  if (r.subresources.status) {
    routes.push({
      path: `${item}/status`,
      parameters: itemParameters(r.kind),
      operations: objectOperations('Status', 'status of ', object, gvk),
    });
  }
  if (r.subresources.scale) {
    routes.push({
      path: `${item}/scale`,
      parameters: itemParameters('Scale'),
      operations: objectOperations('Scale', 'scale of ', SCALE, SCALE_GVK),
    });
  }
  for (const [name, action] of Object.entries(r.subresources.actions)) {
    const created = schemaName(action.kind, r.group, r.version);
    routes.push({
      path: `${item}/${name}`,
      parameters: itemParameters(r.kind),
      operations: [
        {
          method: 'post',
          action: 'post',
          operationId: `create${id}Namespaced${r.kind}${upperFirst(name)}`,
          description: `create ${name} of a ${r.kind}: answers the created ${action.kind}`,
          gvk: { group: r.group, version: r.version, kind: action.kind },
          query: WRITE_QUERY,
          body: { schema: created, required: action.bodyRequired, contentTypes: ANY_CONTENT_TYPE },
          responses: written(created, ['200', '201', '202']),
          produces: OBJECT_CONTENT_TYPES,
        },
      ],
    });
  }
  return routes;
}

// ---------------------------------------------------------------------------------------------------------------
// Schemas

const conditionSchema = toJSONSchemaProps(ConditionSchema);

/**
 * A resource schema as published: metadata refers to ObjectMeta and embedded conditions to metav1.Condition, the way
 * kube-apiserver publishes built-in types (our validation keeps the stricter inline forms).
 */
function publishedSchema(node: JSONSchemaProps, ref: (name: string) => string, isRoot: boolean): SchemaObject {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JSONSchemaProps>).map(([name, child]) => [
          name,
          isRoot && name === 'metadata'
            ? { allOf: [{ $ref: ref(`${META}.ObjectMeta`) }], description: METADATA_DESCRIPTION }
            : publishedSchema(child, ref, false),
        ]),
      );
    } else if (key === 'items' && isDeepStrictEqual(value, conditionSchema)) {
      out.items = { allOf: [{ $ref: ref(`${META}.Condition`) }], default: {} };
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') {
      out[key] = publishedSchema(value as JSONSchemaProps, ref, false);
    } else if (key === 'anyOf' || key === 'oneOf') {
      out[key] = (value as JSONSchemaProps[]).map((s) => publishedSchema(s, ref, false));
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out as SchemaObject;
}

function gvkExtension(gvk: GroupVersionKind) {
  return [{ group: gvk.group, kind: gvk.kind, version: gvk.version }];
}

/** Every schema of the group version by name, in OpenAPI v3 form with `$ref`s built by `ref`. */
function schemas(ref: (name: string) => string): Record<string, SchemaObject> {
  const out: Record<string, SchemaObject> = structuredClone(kubernetesSchemas);
  for (const r of resources) {
    out[schemaName(r.kind, r.group, r.version)] = {
      ...publishedSchema(r.schema, ref, true),
      'x-kubernetes-group-version-kind': gvkExtension({ group: r.group, version: r.version, kind: r.kind }),
    };
    out[schemaName(r.listKind, r.group, r.version)] = {
      description: `${r.listKind} is a list of ${r.kind}`,
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: structuredClone(r.schema.properties?.apiVersion) as SchemaObject,
        kind: structuredClone(r.schema.properties?.kind) as SchemaObject,
        metadata: {
          allOf: [{ $ref: ref(`${META}.ListMeta`) }],
          description: 'Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
        },
        items: {
          description: `List of ${r.plural}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md`,
          type: 'array',
          items: { $ref: ref(schemaName(r.kind, r.group, r.version)) },
        },
      },
      'x-kubernetes-group-version-kind': gvkExtension({ group: r.group, version: r.version, kind: r.listKind }),
    };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

const allRoutes = (): Route[] => resources.flatMap(routesOf);
const INFO = () => ({ title: 'Strongroom', version: VERSION });
const BEARER_TOKEN = () => ({ type: 'apiKey' as const, in: 'header', name: 'authorization', description: 'Bearer Token authentication' });

/** A copy of `value` with object keys sorted, so serialisations are byte-stable. Also unshares every object. */
function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)])) as T;
}

const v3Ref = (name: string) => `#/components/schemas/${name}`;

function v3Parameter(p: Parameter): ParameterObject {
  return {
    name: p.name,
    in: p.in,
    description: p.description,
    ...(p.in === 'path' ? { required: true } : {}),
    schema: { type: p.type, uniqueItems: true },
  };
}

function v3Operation(op: Operation): OperationObject {
  const content = (types: readonly string[], schema: string) =>
    Object.fromEntries(types.map((t) => [t, { schema: { $ref: v3Ref(schema) } }]));
  const operation: OperationObject = {
    description: op.description,
    operationId: op.operationId,
    responses: {
      ...Object.fromEntries(op.responses.map((r) => [r.code, { description: r.description, content: content(op.produces, r.schema) }])),
      '401': { description: 'Unauthorized' },
    },
    tags: [TAG],
    'x-kubernetes-action': op.action,
    'x-kubernetes-group-version-kind': { ...op.gvk },
  };
  if (op.query.length > 0) operation.parameters = op.query.map((q) => v3Parameter(queryParameter(q)));
  if (op.body) {
    operation.requestBody = {
      content: content(op.body.contentTypes, op.body.schema),
      ...(op.body.required ? { required: true } : {}),
    };
  }
  return operation;
}

/** The OpenAPI v3 document of strongroom.dev/v1alpha1 (`/openapi/v3/apis/strongroom.dev/v1alpha1`). */
export function openAPIV3(): object {
  const builder = OpenApiBuilder.create({ openapi: '3.0.0', info: INFO(), paths: {}, components: {} });
  for (const route of allRoutes()) {
    const item: PathItemObject = { parameters: route.parameters.map(v3Parameter) };
    for (const op of route.operations) item[op.method] = v3Operation(op);
    builder.addPath(route.path, item);
  }
  for (const [name, schema] of Object.entries(schemas(v3Ref))) builder.addSchema(name, schema);
  builder.addSecurityScheme('BearerToken', BEARER_TOKEN());
  return sortKeys(builder.getSpec());
}

const v2Ref = (name: string) => `#/definitions/${name}`;

/**
 * A v3 schema in Swagger 2.0 form, by the rules that turn Kubernetes' own v3 schemas into its v2 ones: `$ref`s point
 * into `definitions`, single-ref `allOf`s collapse to the ref, `default`s go; and what 2.0 lacks (`nullable`,
 * `anyOf`, `oneOf`) is dropped.
 */
export function toSwaggerSchema(schema: SchemaObject | ReferenceObject): SchemaObject {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'default' || key === 'nullable' || key === 'anyOf' || key === 'oneOf') continue;
    if (key === '$ref') out.$ref = (value as string).replace('#/components/schemas/', '#/definitions/');
    else if (key === 'allOf' && value.length === 1 && '$ref' in value[0]) Object.assign(out, toSwaggerSchema(value[0]));
    else if (key === 'allOf') out.allOf = (value as SchemaObject[]).map(toSwaggerSchema);
    else if (key === 'properties') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, SchemaObject>).map(([k, v]) => [k, toSwaggerSchema(v)]));
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') out[key] = toSwaggerSchema(value);
    else out[key] = structuredClone(value);
  }
  return out as SchemaObject;
}

function v2Parameter(p: Parameter) {
  return { name: p.name, in: p.in, description: p.description, type: p.type, uniqueItems: true, ...(p.in === 'path' ? { required: true } : {}) };
}

function v2Operation(op: Operation) {
  const body = op.body
    ? [{ name: 'body', in: 'body', ...(op.body.required ? { required: true } : {}), schema: { $ref: v2Ref(op.body.schema) } }]
    : [];
  const parameters = [...body, ...op.query.map((q) => v2Parameter(queryParameter(q)))];
  return {
    consumes: [...(op.body?.contentTypes ?? ANY_CONTENT_TYPE)],
    description: op.description,
    operationId: op.operationId,
    ...(parameters.length > 0 ? { parameters } : {}),
    produces: [...op.produces],
    responses: {
      ...Object.fromEntries(op.responses.map((r) => [r.code, { description: r.description, schema: { $ref: v2Ref(r.schema) } }])),
      '401': { description: 'Unauthorized' },
    },
    schemes: ['https'],
    tags: [TAG],
    'x-kubernetes-action': op.action,
    'x-kubernetes-group-version-kind': { ...op.gvk },
  };
}

/** The Swagger 2.0 document for `/openapi/v2`; the aggregator merges it into the cluster's. */
export function openAPIV2(): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of allRoutes()) {
    const item: Record<string, unknown> = { parameters: route.parameters.map(v2Parameter) };
    for (const op of route.operations) item[op.method] = v2Operation(op);
    paths[route.path] = item;
  }
  const definitions = Object.fromEntries(Object.entries(schemas(v3Ref)).map(([name, s]) => [name, toSwaggerSchema(s)]));
  return sortKeys({
    swagger: '2.0',
    info: INFO(),
    paths,
    definitions,
    securityDefinitions: { BearerToken: BEARER_TOKEN() },
    security: [{ BearerToken: [] }],
  });
}

/** The key of our document in `/openapi/v3` and the aggregator's merged root. */
export const OPENAPI_V3_KEY = `apis/${GROUP}/${VERSION}`;

/** `/openapi/v3`: where the group version's document is, with a hash that changes when the document does. */
export function openAPIV3Root(hashOfV3: string) {
  return { paths: { [OPENAPI_V3_KEY]: { serverRelativeURL: `/openapi/v3/${OPENAPI_V3_KEY}?hash=${hashOfV3}` } } };
}

/** The bytes served and checked in: pretty-printed, keys sorted, newline-terminated. */
export function serializeOpenAPI(doc: object): string {
  return `${JSON.stringify(sortKeys(doc), null, 2)}\n`;
}

/** The generated documents, by path relative to the `openapi/` directory. */
export function openAPIDocuments(): Record<string, string> {
  return {
    'v2.json': serializeOpenAPI(openAPIV2()),
    [`v3/${OPENAPI_V3_KEY.replaceAll('/', '__')}.json`]: serializeOpenAPI(openAPIV3()),
  };
}

/** Writes `openAPIDocuments()` under `dir` (normally `openapi/`), returning the paths written. */
export function writeOpenAPIDocuments(dir: string): string[] {
  return Object.entries(openAPIDocuments()).map(([file, text]) => {
    const path = join(dir, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  });
}
