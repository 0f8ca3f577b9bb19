// The merge types of an object, derived from its structural schema the way kube-apiserver derives them for a CRD
// (apiextensions builder.BuildOpenAPIV3 + kube-openapi schemaconv + structured-merge-diff schema): each node is a
// struct or map (granular unless `x-kubernetes-map-type: atomic`), a list (atomic unless `x-kubernetes-list-type` is
// `set` or `map`), a scalar, or several of these when the schema leaves the type open.
import type { JSONSchemaProps } from '../../api/definition.ts';

export type ScalarKind = 'numeric' | 'string' | 'boolean' | 'untyped';

export interface ListType {
  /** Atomic lists are replaced whole; associative ones merge item by item (a set, or a list-map by `keys`). */
  readonly atomic: boolean;
  readonly keys: readonly string[];
  readonly element: Atom;
}

export interface StructField {
  readonly type: Atom;
  /** The schema default; a list-map key with a default may be omitted from items. */
  readonly default: unknown;
}

export interface MapType {
  readonly atomic: boolean;
  /** Declared properties (a struct); the rest of the keys take `element`. */
  readonly fields: ReadonlyMap<string, StructField>;
  /** The type of undeclared keys; `undefined` when the schema allows none. */
  readonly element: Atom | undefined;
}

/** What a node may be. A value picks the one matching its JSON kind; open schemas offer all three. */
export interface Atom {
  readonly scalar?: ScalarKind;
  readonly list?: ListType;
  readonly map?: MapType;
}

type MutableAtom = { scalar?: ScalarKind; list?: ListType; map?: MapType };

/** schemaconv's `__untyped_atomic_`: anything, owned as one value. */
export const UNTYPED: Atom = (() => {
  const atom: MutableAtom = { scalar: 'untyped' };
  atom.list = { atomic: true, keys: [], element: atom };
  atom.map = { atomic: true, fields: new Map(), element: atom };
  return atom;
})();

/** schemaconv's `__untyped_deduced_`: maps merge key by key, lists are atomic (preserve-unknown-fields content). */
export const DEDUCED: Atom = (() => {
  const atom: MutableAtom = { scalar: 'untyped' };
  atom.list = { atomic: true, keys: [], element: UNTYPED };
  atom.map = { atomic: false, fields: new Map(), element: atom };
  return atom;
})();

/** A map without declared fields whose keys are deduced: reconciliation leaves these alone (reconcile_schema.go). */
export function isUntypedDeducedMap(map: MapType): boolean {
  const e = map.element;
  return map.fields.size === 0 && e !== undefined && (e === DEDUCED || (e !== UNTYPED && e.scalar === 'untyped'));
}

const STRING: JSONSchemaProps = { type: 'string' };
const TIME: JSONSchemaProps = { type: 'string', format: 'date-time' };
const INT64: JSONSchemaProps = { type: 'integer', format: 'int64' };

/** meta/v1 ObjectMeta as published in the Kubernetes OpenAPI; a CRD's own `metadata` schema is replaced by it. */
export const OBJECT_META_SCHEMA: JSONSchemaProps = {
  type: 'object',
  properties: {
    annotations: { type: 'object', additionalProperties: STRING },
    creationTimestamp: TIME,
    deletionGracePeriodSeconds: INT64,
    deletionTimestamp: TIME,
    finalizers: { type: 'array', items: STRING, 'x-kubernetes-list-type': 'set', 'x-kubernetes-patch-strategy': 'merge' },
    generateName: STRING,
    generation: INT64,
    labels: { type: 'object', additionalProperties: STRING },
    managedFields: {
      type: 'array',
      'x-kubernetes-list-type': 'atomic',
      items: {
        type: 'object',
        properties: {
          apiVersion: STRING,
          fieldsType: STRING,
          fieldsV1: { type: 'object' },
          manager: STRING,
          operation: STRING,
          subresource: STRING,
          time: TIME,
        },
      },
    },
    name: STRING,
    namespace: STRING,
    ownerReferences: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['uid'],
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-patch-merge-key': 'uid',
      items: {
        type: 'object',
        required: ['apiVersion', 'kind', 'name', 'uid'],
        'x-kubernetes-map-type': 'atomic',
        properties: {
          apiVersion: STRING,
          blockOwnerDeletion: { type: 'boolean' },
          controller: { type: 'boolean' },
          kind: STRING,
          name: STRING,
          uid: STRING,
        },
      },
    },
    resourceVersion: STRING,
    selfLink: STRING,
    uid: STRING,
  },
};

const cache = new WeakMap<JSONSchemaProps, Atom>();

/** The merge type of a whole object from its schema (apiVersion, kind and metadata are supplied as upstream does). */
export function objectType(schema: JSONSchemaProps): Atom {
  let atom = cache.get(schema);
  if (!atom) {
    atom = convert(withKubeNativeProperties(schema), false);
    cache.set(schema, atom);
  }
  return atom;
}

/**
 * The object schema as apiextensions publishes it for the root and for `x-kubernetes-embedded-resource` nodes: typed
 * apiVersion and kind, and the real ObjectMeta whatever the schema says about `metadata`.
 */
export function withKubeNativeProperties(schema: JSONSchemaProps): JSONSchemaProps {
  return {
    ...schema,
    type: 'object',
    properties: { ...schema.properties, apiVersion: STRING, kind: STRING, metadata: OBJECT_META_SCHEMA },
  };
}

function convert(schema: JSONSchemaProps, preserveUnknownFields: boolean): Atom {
  // The flag, once set, holds for the whole subtree.
  const preserve = preserveUnknownFields || schema['x-kubernetes-preserve-unknown-fields'] === true;
  const s = schema['x-kubernetes-embedded-resource'] === true ? withKubeNativeProperties(schema) : schema;
  switch (s.type ?? '') {
    case '':
      return { scalar: 'untyped', list: listOf(s, preserve), map: mapOf(s, preserve) };
    case 'object':
      return { map: mapOf(s, preserve) };
    case 'array':
      return { list: listOf(s, preserve) };
    case 'integer':
    case 'number':
      return { scalar: 'numeric' };
    case 'boolean':
      return { scalar: 'boolean' };
    case 'string':
      return { scalar: s.format === undefined || s.format === '' || s.format === 'byte' ? 'string' : 'untyped' };
    default:
      throw new Error(`unrecognized type: '${String(s.type)}'`);
  }
}

function mapOf(s: JSONSchemaProps, preserve: boolean): MapType {
  const fields = new Map<string, StructField>();
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    fields.set(name, { type: convert(prop, preserve), default: prop.default });
  }
  let element: Atom | undefined;
  if (s.additionalProperties === undefined) {
    // An object without properties is free-form; with properties, unknown keys are not allowed.
    element = preserve || fields.size === 0 ? DEDUCED : undefined;
  } else if (typeof s.additionalProperties === 'object') {
    element = convert(s.additionalProperties, preserve);
  } else {
    element = s.additionalProperties ? DEDUCED : undefined;
  }
  const mapType = s['x-kubernetes-map-type'];
  if (mapType !== undefined && mapType !== 'atomic' && mapType !== 'granular') throw new Error(`unknown map type ${String(mapType)}`);
  return { atomic: mapType === 'atomic', fields, element };
}

function listOf(s: JSONSchemaProps, preserve: boolean): ListType {
  if (s.items === undefined && s.type === 'array') throw new Error('`items` must be specified on arrays');
  const element = s.items === undefined ? UNTYPED : convert(s.items, preserve);
  const listType = s['x-kubernetes-list-type'];
  if (listType !== undefined) {
    switch (listType) {
      case 'atomic':
        return { atomic: true, keys: [], element };
      case 'set':
        return { atomic: false, keys: [], element };
      case 'map': {
        const keys = s['x-kubernetes-list-map-keys'];
        if (!Array.isArray(keys)) throw new Error('missing map keys');
        return { atomic: false, keys: keys.filter((k): k is string => typeof k === 'string'), element };
      }
      default:
        throw new Error(`unknown list type ${String(listType)}`);
    }
  }
  // Built-in types' patch strategies also shape lists (ObjectMeta relies on list types, but schemaconv honours both).
  const strategy = s['x-kubernetes-patch-strategy'];
  if (strategy === 'merge' || strategy === 'merge,retainKeys') {
    const mergeKey = s['x-kubernetes-patch-merge-key'];
    return { atomic: false, keys: typeof mergeKey === 'string' ? [mergeKey] : [], element };
  }
  return { atomic: true, keys: [], element };
}
