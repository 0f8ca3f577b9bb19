// Structural-schema machinery shared by every resource, doing what kube-apiserver does for a CRD: validation (ajv,
// errors mapped to field errors as apiextensions-apiserver maps kube-openapi's), list-type checks, pruning of
// undeclared fields and defaulting. Plus the TypeBox building blocks the resource schemas are written with.
import { Type, type SchemaOptions, type TObject, type TProperties, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { JSONSchemaProps, ResourceDefinition } from './definition.ts';
import {
  childPath,
  fieldDuplicate,
  fieldInvalid,
  fieldNotSupported,
  fieldRequired,
  fieldTooLong,
  fieldTooMany,
  fieldTypeInvalid,
} from './field.ts';
import type { FieldError, KubeObject } from './meta.ts';
import { QUANTITY_PATTERN } from './quantity.ts';

// ---------------------------------------------------------------------------------------------------------------
// Validation

/** The Kubernetes extensions a structural schema may carry; ajv's strict mode refuses keywords it does not know. */
const KUBERNETES_KEYWORDS = [
  'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-list-type',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-validations',
];

// The CJS build of ajv-formats exposes its function as `default` to TypeScript but as the module to Node.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default;

const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  strict: true,
  // An int-or-string quantity keeps `pattern` beside `anyOf: [{type: integer}, {type: string}]`, which is the shape
  // structural schemas require but which strictTypes rejects.
  strictTypes: false,
});
addFormats(ajv, ['date-time', 'int32', 'int64']);
ajv.addVocabulary(KUBERNETES_KEYWORDS);

export type SchemaValidator = (obj: unknown) => FieldError[];

/** Compiles `schema` once; the returned function lists every violation with a JS-style field path. */
export function compileSchema(schema: JSONSchemaProps): SchemaValidator {
  const validate = ajv.compile(schema);
  return (obj) => {
    const errors = validate(obj) ? [] : (validate.errors ?? []).flatMap((e) => toFieldError(schema, e));
    return [...errors, ...listTypeErrors(schema, obj, '')];
  };
}

function toFieldError(root: JSONSchemaProps, e: ErrorObject): FieldError[] {
  // The branches of an int-or-string `anyOf` each report a type error; the anyOf error alone is the useful one.
  if (/\/anyOf\/\d+\//.test(e.schemaPath)) return [];
  const field = fieldPath(root, e.instancePath);
  const params = e.params as Record<string, unknown>;
  const inBody = `${field} in body`;
  switch (e.keyword) {
    case 'required':
      return [fieldRequired(childPath(field, String(params.missingProperty)))];
    case 'enum':
      return [fieldNotSupported(field, e.data, params.allowedValues as unknown[])];
    case 'type':
      return [fieldTypeInvalid(field, jsonType(e.data), `${inBody} must be of type ${params.type}: "${jsonType(e.data)}"`)];
    case 'anyOf': {
      const types = ((e.parentSchema as JSONSchemaProps).anyOf ?? []).map((s) => s.type).join(' or ');
      return [fieldTypeInvalid(field, jsonType(e.data), `${inBody} must be of type ${types}: "${jsonType(e.data)}"`)];
    }
    case 'maxLength':
      return [fieldTooLong(field, params.limit as number)];
    case 'maxItems':
      return [fieldTooMany(field, (e.data as unknown[]).length, params.limit as number)];
    case 'minimum':
      return [fieldInvalid(field, e.data, `${inBody} should be greater than or equal to ${params.limit}`)];
    case 'maximum':
      return [fieldInvalid(field, e.data, `${inBody} should be less than or equal to ${params.limit}`)];
    case 'minLength':
      return [fieldInvalid(field, e.data, `${inBody} should be at least ${params.limit} chars long`)];
    case 'minItems':
      return [fieldInvalid(field, e.data, `${inBody} should have at least ${params.limit} items`)];
    case 'pattern':
      return [fieldInvalid(field, e.data, `${inBody} should match '${params.pattern}'`)];
    case 'format':
      return [fieldInvalid(field, e.data, `${inBody} must be of type ${params.format}: ${JSON.stringify(e.data)}`)];
    default:
      return [fieldInvalid(field, e.data, `${inBody} ${e.message ?? 'is invalid'}`)];
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** `/spec/items/1/name` → `spec.items[1].name`; map keys become `[key]`, as field.Path prints them. */
export function fieldPath(schema: JSONSchemaProps, pointer: string): string {
  let node: JSONSchemaProps | undefined = schema;
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    const mapValues = node?.properties?.[segment] ? undefined : node?.additionalProperties;
    if (node?.type === 'array') {
      path = childPath(path, Number(segment));
      node = node.items;
    } else if (typeof mapValues === 'object') {
      path = `${path}[${segment}]`;
      node = mapValues;
    } else {
      path = childPath(path, segment);
      node = node?.properties?.[segment];
    }
  }
  return path;
}

/** Uniqueness that `x-kubernetes-list-type` promises and JSON Schema cannot check: map keys and set items. */
function listTypeErrors(schema: JSONSchemaProps, value: unknown, path: string): FieldError[] {
  if (Array.isArray(value)) {
    if (!schema.items) return [];
    const errors = value.flatMap((item, i) => listTypeErrors(schema.items!, item, childPath(path, i)));
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'map' || listType === 'set') {
      const keys = (schema['x-kubernetes-list-map-keys'] ?? []) as string[];
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const identity = listType === 'map' ? Object.fromEntries(keys.map((k) => [k, item?.[k]])) : item;
        const serialized = JSON.stringify(identity);
        if (seen.has(serialized)) errors.push(fieldDuplicate(childPath(path, i), identity));
        seen.add(serialized);
      });
    }
    return errors;
  }
  if (!isPlainObject(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const childSchema = schema.properties?.[key];
    return childSchema ? listTypeErrors(childSchema, child, childPath(path, key)) : [];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Pruning and defaulting

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Removes the fields `schema` does not declare, as kube-apiserver prunes a CRD object, and returns their paths
 * (`.spec.foo`, `.spec.items[1].bar`). Honours `x-kubernetes-preserve-unknown-fields` and `additionalProperties`;
 * `metadata` is left to ObjectMeta's own handling.
 */
export function pruneUnknownFields(schema: JSONSchemaProps, obj: unknown): string[] {
  const pruned: string[] = [];
  prune(schema, obj, '', pruned, true);
  return pruned;
}

function prune(schema: JSONSchemaProps, value: unknown, path: string, pruned: string[], isRoot: boolean): void {
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => prune(schema.items!, item, `${path}[${i}]`, pruned, false));
    return;
  }
  if (!isPlainObject(value) || schema.type !== 'object') return;
  const keepUnknown = schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true;
  for (const key of Object.keys(value)) {
    if (isRoot && key === 'metadata') continue;
    const childSchema = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (childSchema) prune(childSchema, value[key], `${path}.${key}`, pruned, false);
    else if (!keepUnknown) {
      delete value[key];
      pruned.push(`${path}.${key}`);
    }
  }
}

/**
 * Applies `default`s as CRD defaulting does: a field that is absent (or null without `nullable`) in an object that
 * exists gets a copy of its default, and the default is itself defaulted further down. Mutates `obj`.
 */
export function applySchemaDefaults(schema: JSONSchemaProps, obj: unknown): void {
  if (Array.isArray(obj)) {
    if (schema.items) for (const item of obj) applySchemaDefaults(schema.items, item);
    return;
  }
  if (!isPlainObject(obj)) return;
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (property.default === undefined) continue;
    if (!(key in obj) || (obj[key] === null && !property.nullable)) obj[key] = structuredClone(property.default);
  }
  for (const [key, child] of Object.entries(obj)) {
    const childSchema = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (childSchema) applySchemaDefaults(childSchema, child);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Building blocks for resource schemas (TypeBox, so each schema also gives the TypeScript type of its objects)

/** A string limited to `values`, typed as their union. */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** A map of strings, as `map[string]string` in Go types. */
export function StringMap(options: SchemaOptions): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({ ...options, type: 'object', additionalProperties: { type: 'string' } });
}

/** A `resource.Quantity` in the int-or-string form CRDs use, so `cpu: 2` and `memory: 1Gi` both validate. */
export function Quantity(options: SchemaOptions): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({
    ...options,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
    'x-kubernetes-int-or-string': true,
  });
}

/** An RFC 3339 timestamp (`metav1.Time`). */
export function Timestamp(options: SchemaOptions) {
  return Type.String({ ...options, format: 'date-time' });
}

/** `metav1.Condition`, with the validation controller-gen emits for it. */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({
      description: 'type of condition in CamelCase or in foo.example.com/CamelCase.',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, {
      description: 'status of the condition, one of True, False, Unknown.',
    }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description:
          'observedGeneration represents the .metadata.generation that the condition was set based upon. For instance, if .metadata.generation is currently 12, but the .status.conditions[x].observedGeneration is 9, the condition is out of date with respect to the current state of the instance.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    lastTransitionTime: Timestamp({
      description:
        'lastTransitionTime is the last time the condition transitioned from one status to another. This should be when the underlying condition changed.  If that is not known, then using the time when the API field changed is acceptable.',
    }),
    reason: Type.String({
      description:
        "reason contains a programmatic identifier indicating the reason for the condition's last transition. Producers of specific condition types may define expected values and meanings for this field, and whether the values are considered a guaranteed API. The value should be a CamelCase string. This field may not be empty.",
      maxLength: 1024,
      minLength: 1,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Type.String({
      description: 'message is a human readable message indicating details about the transition. This may be an empty string.',
      maxLength: 32768,
    }),
  },
  { description: 'Condition contains details for one aspect of the current state of this API Resource.' },
);

/** `status.conditions`: a list-map keyed by `type`, so server-side apply merges conditions one by one. */
export function Conditions(description: string) {
  return Type.Array(ConditionSchema, {
    description,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

const API_VERSION_DESCRIPTION =
  'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources';
const KIND_DESCRIPTION =
  'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds';
export const METADATA_DESCRIPTION =
  "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/** The whole object: apiVersion, kind, metadata (left to ObjectMeta handling), spec (required) and status. */
export function ResourceSchema<Spec extends TSchema, Status extends TSchema>(description: string, spec: Spec, status: Status) {
  return Type.Object(
    {
      apiVersion: Type.Optional(Type.String({ description: API_VERSION_DESCRIPTION })),
      kind: Type.Optional(Type.String({ description: KIND_DESCRIPTION })),
      metadata: Type.Optional(Type.Unsafe<Record<string, unknown>>({ type: 'object', description: METADATA_DESCRIPTION })),
      spec,
      status: Type.Optional(status),
    },
    { description },
  );
}

/** The plain JSON schema of a TypeBox schema (TypeBox's symbol-keyed markers do not survive). */
export function toJSONSchemaProps(schema: TObject<TProperties>): JSONSchemaProps {
  return JSON.parse(JSON.stringify(schema)) as JSONSchemaProps;
}

/**
 * What a ResourceDefinition takes from its schema: the schema as published, its description, and a `validate` that
 * runs `semanticErrors` only on an object the schema accepts, so those checks can trust the object's types.
 */
export function schemaAndValidation<T extends KubeObject>(
  resourceSchema: TObject<TProperties>,
  semanticErrors: (obj: T) => FieldError[],
): Pick<ResourceDefinition, 'description' | 'schema' | 'validate'> {
  const schema = toJSONSchemaProps(resourceSchema);
  const validateSchema = compileSchema(schema);
  return {
    description: schema.description as string,
    schema,
    validate(obj) {
      const errors = validateSchema(obj);
      return errors.length > 0 ? errors : semanticErrors(obj as T);
    },
  };
}
