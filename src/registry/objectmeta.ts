// ObjectMeta from a request body: first coerced into its Go shape (malformed fields dropped, unknown ones reported, as
// apiextensions-apiserver does for custom resources), then validated as apimachinery's ValidateObjectMetaAccessor and
// ValidateObjectMetaAccessorUpdate — with the same field paths and messages, since clients print them verbatim.
import type { FieldError, ObjectMeta, OwnerReference } from '../api/meta.ts';
import { badRequest } from '../api/errors.ts';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, fieldTooLong } from '../api/field.ts';
import { validateFieldManager } from './options.ts';
import { byteLength, isDNS1123Label, isDNS1123Subdomain, isLabelValue, isQualifiedName, isRFC3339Time } from './validation.ts';

const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
const MAX_SUBRESOURCE_NAME_LENGTH = 256;

// ---- Coercion ---------------------------------------------------------------------------------------------------

/** Decodes one field: the value to keep, or INVALID when Go's json.Unmarshal would fail on it. */
type Decoder = (value: unknown, path: string, unknownFields: string[]) => unknown;
const INVALID = Symbol('invalid');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const scalar =
  (is: (v: unknown) => boolean): Decoder =>
  (v) =>
    is(v) ? v : INVALID;
const string = scalar((v) => typeof v === 'string');
const boolean = scalar((v) => typeof v === 'boolean');
const integer = scalar((v) => Number.isSafeInteger(v));
const time = scalar((v) => typeof v === 'string' && isRFC3339Time(v));
const stringMap = scalar((v) => isObject(v) && Object.values(v).every((x) => typeof x === 'string'));
const stringArray = scalar((v) => Array.isArray(v) && v.every((x) => typeof x === 'string'));
const anyObject = scalar(isObject);

// A Go struct: known fields decoded (null leaves them unset), unknown ones dropped and reported.
function struct(fields: Record<string, Decoder>): Decoder {
  return (value, path, unknownFields) => {
    if (!isObject(value)) return INVALID;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const decode = Object.hasOwn(fields, key) ? fields[key] : undefined;
      if (!decode) unknownFields.push(`${path}.${key}`);
      else if (v !== null) {
        const decoded = decode(v, `${path}.${key}`, unknownFields);
        if (decoded === INVALID) return INVALID;
        out[key] = decoded;
      }
    }
    return out;
  };
}

function arrayOf(item: Decoder): Decoder {
  return (value, path, unknownFields) => {
    if (!Array.isArray(value)) return INVALID;
    const out = value.map((v, i) => item(v, `${path}[${i}]`, unknownFields));
    return out.includes(INVALID) ? INVALID : out;
  };
}

const ownerReference = struct({ apiVersion: string, kind: string, name: string, uid: string, controller: boolean, blockOwnerDeletion: boolean });
const managedFieldsEntry = struct({
  manager: string,
  operation: string,
  apiVersion: string,
  time,
  fieldsType: string,
  fieldsV1: anyObject,
  subresource: string,
});

/** Each field's decoder, and its Go type for the error message. */
const OBJECT_META_FIELDS: Record<string, [Decoder, string]> = {
  name: [string, 'string'],
  generateName: [string, 'string'],
  namespace: [string, 'string'],
  uid: [string, 'types.UID'],
  resourceVersion: [string, 'string'],
  generation: [integer, 'int64'],
  creationTimestamp: [time, 'v1.Time'],
  deletionTimestamp: [time, 'v1.Time'],
  deletionGracePeriodSeconds: [integer, 'int64'],
  labels: [stringMap, 'map[string]string'],
  annotations: [stringMap, 'map[string]string'],
  finalizers: [stringArray, '[]string'],
  ownerReferences: [arrayOf(ownerReference), '[]v1.OwnerReference'],
  managedFields: [arrayOf(managedFieldsEntry), '[]v1.ManagedFieldsEntry'],
};

function jsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

/**
 * The `metadata` of a request body as Go would decode it into ObjectMeta: a field of the wrong type (`labels: []`)
 * is a 400 in every fieldValidation mode, as kube-apiserver's request decoder refuses it for custom resources (only
 * its storage decoder drops such fields); unknown fields are dropped and returned as paths (`metadata.foo`,
 * `metadata.ownerReferences[0].bar`) for fieldValidation Warn/Strict. selfLink is known but never kept, as the server
 * clears it anyway.
 */
export function coerceObjectMeta(metadata: unknown): { metadata: ObjectMeta; unknownFields: string[] } {
  const out: Record<string, unknown> = {};
  const unknownFields: string[] = [];
  if (isObject(metadata)) {
    for (const [key, value] of Object.entries(metadata)) {
      if (key === 'selfLink') continue;
      const field = Object.hasOwn(OBJECT_META_FIELDS, key) ? OBJECT_META_FIELDS[key] : undefined;
      if (!field) {
        unknownFields.push(`metadata.${key}`);
        continue;
      }
      if (value === null) continue;
      const [decode, goType] = field;
      const decoded = decode(value, `metadata.${key}`, unknownFields);
      if (decoded === INVALID) throw badRequest(`json: cannot unmarshal ${jsonType(value)} into Go struct field ObjectMeta.${key} of type ${goType}`);
      out[key] = decoded;
    }
  }
  return { metadata: out as ObjectMeta, unknownFields: unknownFields.sort() };
}

// ---- Validation -------------------------------------------------------------------------------------------------

// generateName gets a random suffix, so a trailing '-' is fine there (apimachinery's maskTrailingDash).
function validateGenerateName(prefix: string): string[] {
  const masked = prefix.length > 1 && prefix.endsWith('-') ? `${prefix.slice(0, -2)}a` : prefix;
  return isDNS1123Subdomain(masked);
}

function validateLabels(labels: Record<string, string> | undefined): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    for (const m of isQualifiedName(key)) errors.push(fieldInvalid('metadata.labels', key, m));
    for (const m of isLabelValue(value)) errors.push(fieldInvalid('metadata.labels', value, m));
  }
  return errors;
}

function validateAnnotations(annotations: Record<string, string> | undefined): FieldError[] {
  const errors: FieldError[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(annotations ?? {})) {
    // The rule is QualifiedName except that case does not matter.
    for (const m of isQualifiedName(key.toLowerCase())) errors.push(fieldInvalid('metadata.annotations', key, m));
    size += byteLength(key) + byteLength(value);
  }
  if (size > TOTAL_ANNOTATION_SIZE_LIMIT) errors.push(fieldTooLong('metadata.annotations', TOTAL_ANNOTATION_SIZE_LIMIT));
  return errors;
}

// schema.ParseGroupVersion: "v1", "group/v1"; more than one slash, or no version, is invalid.
function parseGroupVersion(apiVersion: string): { group: string; version: string } | undefined {
  const parts = apiVersion.split('/');
  if (parts.length > 2) return undefined;
  const [group, version] = parts.length === 1 ? ['', parts[0]!] : [parts[0]!, parts[1]!];
  return version ? { group, version } : undefined;
}

function validateOwnerReferences(refs: OwnerReference[] | undefined): FieldError[] {
  const errors: FieldError[] = [];
  let firstController: string | undefined;
  (refs ?? []).forEach((ref, i) => {
    const path = `metadata.ownerReferences[${i}]`;
    const gv = parseGroupVersion(ref.apiVersion ?? '');
    if (!ref.apiVersion) errors.push(fieldRequired(`${path}.apiVersion`, 'must not be empty'));
    else if (!gv) errors.push(fieldInvalid(`${path}.apiVersion`, ref.apiVersion, 'must be <group>/<version> or <version>'));
    for (const key of ['kind', 'name', 'uid'] as const) if (!ref[key]) errors.push(fieldRequired(`${path}.${key}`, 'must not be empty'));
    // Events are garbage collected on their own and may never own anything.
    if (gv?.group === '' && gv.version === 'v1' && ref.kind === 'Event')
      errors.push(fieldInvalid(path, ref, '/v1, Kind=Event is disallowed from being an owner'));
    if (ref.controller) {
      const current = `${ref.kind}/${ref.name}`;
      if (firstController === undefined) firstController = current;
      else
        errors.push(
          fieldInvalid(
            'metadata.ownerReferences',
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
    }
  });
  return errors;
}

function validateFinalizers(finalizers: string[] | undefined): FieldError[] {
  const errors: FieldError[] = [];
  for (const f of finalizers ?? []) for (const m of isQualifiedName(f)) errors.push(fieldInvalid('metadata.finalizers', f, m));
  if (finalizers?.includes('orphan') && finalizers.includes('foregroundDeletion'))
    errors.push(fieldInvalid('metadata.finalizers', finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'));
  return errors;
}

function validateManagedFields(entries: ObjectMeta['managedFields']): FieldError[] {
  const errors: FieldError[] = [];
  (entries ?? []).forEach((entry, i) => {
    const path = `metadata.managedFields[${i}]`;
    const operation: string = entry.operation ?? '';
    if (operation === '') errors.push(fieldRequired(`${path}.operation`, 'must not be empty'));
    else if (operation !== 'Apply' && operation !== 'Update') errors.push(fieldNotSupported(`${path}.operation`, operation, ['Apply', 'Update']));
    const fieldsType: string = entry.fieldsType ?? '';
    if (fieldsType !== '' && fieldsType !== 'FieldsV1') errors.push(fieldInvalid(`${path}.fieldsType`, fieldsType, 'must be `FieldsV1`'));
    errors.push(...validateFieldManager(entry.manager ?? '', `${path}.manager`));
    if (byteLength(entry.subresource ?? '') > MAX_SUBRESOURCE_NAME_LENGTH) errors.push(fieldTooLong(`${path}.subresource`, MAX_SUBRESOURCE_NAME_LENGTH));
  });
  return errors;
}

/**
 * Checks the metadata of an object to be created (after its name was generated from generateName): names are DNS
 * subdomains, namespaces DNS labels (required when `namespaced`, forbidden otherwise), labels, annotations,
 * owner references, finalizers and managed fields well-formed.
 */
export function validateObjectMeta(meta: ObjectMeta, namespaced: boolean): FieldError[] {
  const errors: FieldError[] = [];
  if (meta.generateName) for (const m of validateGenerateName(meta.generateName)) errors.push(fieldInvalid('metadata.generateName', meta.generateName, m));
  if (!meta.name) errors.push(fieldRequired('metadata.name', 'name or generateName is required'));
  else for (const m of isDNS1123Subdomain(meta.name)) errors.push(fieldInvalid('metadata.name', meta.name, m));
  if (namespaced) {
    if (!meta.namespace) errors.push(fieldRequired('metadata.namespace'));
    else for (const m of isDNS1123Label(meta.namespace)) errors.push(fieldInvalid('metadata.namespace', meta.namespace, m));
  } else if (meta.namespace) {
    errors.push(fieldForbidden('metadata.namespace', 'not allowed on this type'));
  }
  if ((meta.generation ?? 0) < 0) errors.push(fieldInvalid('metadata.generation', meta.generation, 'must be greater than or equal to 0'));
  errors.push(
    ...validateLabels(meta.labels),
    ...validateAnnotations(meta.annotations),
    ...validateOwnerReferences(meta.ownerReferences),
    ...validateFinalizers(meta.finalizers),
    ...validateManagedFields(meta.managedFields),
  );
  return errors;
}

// Timestamps are compared as instants, as Go compares metav1.Time values.
function sameTime(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a === b || Date.parse(a) === Date.parse(b);
}

/**
 * What an update may not change in metadata (upstream's ValidateObjectMetaAccessorUpdate); run validateObjectMeta on
 * the new metadata as well. As upstream, the caller first carries over the system fields a client may omit (uid,
 * creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, generation) and sets resourceVersion for an
 * unconditional update.
 */
export function validateObjectMetaUpdate(meta: ObjectMeta, old: ObjectMeta): FieldError[] {
  const errors: FieldError[] = [];
  if (old.deletionTimestamp) {
    const added = [...new Set(meta.finalizers ?? [])].filter((f) => !(old.finalizers ?? []).includes(f)).sort();
    if (added.length > 0)
      errors.push(
        fieldForbidden(
          'metadata.finalizers',
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
        ),
      );
  }
  if (!meta.resourceVersion) errors.push(fieldInvalid('metadata.resourceVersion', meta.resourceVersion ?? '', 'must be specified for an update'));
  if ((meta.generation ?? 0) < (old.generation ?? 0)) errors.push(fieldInvalid('metadata.generation', meta.generation ?? 0, 'must not be decremented'));
  const immutable: [keyof ObjectMeta, boolean][] = [
    // An unset string is Go's "", so unset and empty are the same value.
    ['name', (meta.name ?? '') === (old.name ?? '')],
    ['namespace', (meta.namespace ?? '') === (old.namespace ?? '')],
    ['uid', (meta.uid ?? '') === (old.uid ?? '')],
    ['creationTimestamp', sameTime(meta.creationTimestamp, old.creationTimestamp)],
    ['deletionTimestamp', sameTime(meta.deletionTimestamp, old.deletionTimestamp)],
    ['deletionGracePeriodSeconds', meta.deletionGracePeriodSeconds === old.deletionGracePeriodSeconds],
  ];
  for (const [field, unchanged] of immutable) if (!unchanged) errors.push(fieldInvalid(`metadata.${field}`, meta[field], 'field is immutable'));
  return errors;
}
