// The steps of a write that are the same for every resource (k8s.io/apiserver's rest strategy functions); pipeline.ts
// runs them in their one fixed order. What differs per resource comes from its ResourceDefinition.
import { randomUUID } from 'node:crypto';
import type { ResourceDefinition } from '../api/definition.ts';
import { badRequest, invalid } from '../api/errors.ts';
import type { FieldError, KubeObject } from '../api/meta.ts';
import { applySchemaDefaults, pruneUnknownFields } from '../api/schema.ts';
import { semanticallyEqual } from './equality.ts';
import { validateManagedFields } from './fieldmanager/index.ts';
import { coerceObjectMeta, validateObjectMeta, validateObjectMetaUpdate } from './objectmeta.ts';
import type { FieldValidation } from './options.ts';

export function deepClone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * Checks the body's apiVersion/kind and drops fields the schema does not declare, as decoding into a Go type does.
 * Returns warnings for `Warn`, throws 400 for `Strict` (the messages kube-apiserver uses).
 */
export function decodeObject(def: ResourceDefinition, body: unknown, fieldValidation: FieldValidation): { obj: KubeObject; warnings: string[] } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(`the body of the request must be a ${def.kind} object`);
  }
  const obj = body as KubeObject;
  const expected = `${def.group}/${def.version}`;
  if (obj.apiVersion !== undefined && obj.apiVersion !== expected) {
    throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${expected})`);
  }
  if (obj.kind !== undefined && obj.kind !== def.kind) {
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${def.kind})`);
  }
  obj.apiVersion = expected;
  obj.kind = def.kind;
  if (obj.metadata !== undefined && obj.metadata !== null && (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata))) {
    throw badRequest('metadata must be an object');
  }
  const { metadata, unknownFields } = coerceObjectMeta(obj.metadata);
  obj.metadata = metadata;
  const unknown = [...unknownFields.map((f) => `.${f}`), ...pruneUnknownFields(def.schema, obj)];
  if (unknown.length === 0 || fieldValidation === 'Ignore') return { obj, warnings: [] };
  if (fieldValidation === 'Strict') {
    const list = unknown.map((p) => `unknown field "${p.replace(/^\./, '')}"`).join(', ');
    throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${list}`);
  }
  return { obj, warnings: unknown.map((p) => `unknown field "${p.replace(/^\./, '')}"`) };
}

function throwIfInvalid(def: ResourceDefinition, obj: KubeObject, errors: FieldError[]): void {
  if (errors.length > 0) throw invalid(def.kind, def.group, obj.metadata.name ?? obj.metadata.generateName ?? '', errors);
}

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function generateName(prefix: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_SUFFIX_ALPHABET[Math.floor(Math.random() * NAME_SUFFIX_ALPHABET.length)];
  return prefix + suffix;
}

/** Defaults from the schema, then the resource's own (as decoding a custom resource defaults it). Mutates `obj`. */
export function applyDefaults(def: ResourceDefinition, obj: KubeObject): void {
  applySchemaDefaults(def.schema, obj);
  def.applyDefaults(obj);
}

/** EnsureObjectNamespaceMatchesRequestNamespace: the URL's namespace, which a body may repeat but not contradict. */
export function ensureNamespace(def: ResourceDefinition, obj: KubeObject, namespace: string | undefined): void {
  const meta = obj.metadata;
  if (!def.namespaced) {
    delete meta.namespace;
    return;
  }
  if (meta.namespace && meta.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  meta.namespace = namespace;
}

/** FillObjectMetaSystemFields, and a name from generateName: done after mutating admission, as upstream. */
export function fillSystemFields(obj: KubeObject, now: Date): void {
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName);
  meta.uid = randomUUID();
  meta.creationTimestamp = rfc3339(now);
}

/** Create: the server owns the remaining system fields, status starts empty (it is written only through /status). */
export function prepareForCreate(def: ResourceDefinition, obj: KubeObject): void {
  const meta = obj.metadata;
  meta.generation = 1;
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  if (def.subresources.status) delete obj.status;
}

export function validateCreate(def: ResourceDefinition, obj: KubeObject): void {
  const errors = [...validateMetadata(def, obj), ...def.validate(obj)];
  throwIfInvalid(def, obj, errors);
}

/** The non-metadata, non-status content whose change moves `generation` (the CRD rule). */
function specOf(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

/**
 * Update of the main resource (and of /scale, which writes the main resource's replicas) keeps the stored status;
 * update of /status keeps everything but status. The server owned metadata is carried over from the stored object in
 * every case.
 */
export function prepareForUpdate(def: ResourceDefinition, obj: KubeObject, old: KubeObject, subresource: string): KubeObject {
  let next: KubeObject;
  if (subresource === 'status') {
    next = deepClone(old);
    if (obj.status === undefined) delete next.status;
    else next.status = obj.status;
    next.metadata.managedFields = obj.metadata.managedFields;
  } else {
    next = obj;
    if (def.subresources.status) {
      if (old.status === undefined) delete next.status;
      else next.status = deepClone(old.status);
    }
  }
  const meta = next.metadata;
  // A changed uid is refused by validation (immutable); an absent one means "the same object".
  if (!meta.uid) meta.uid = old.metadata.uid;
  meta.creationTimestamp = old.metadata.creationTimestamp;
  meta.namespace = old.metadata.namespace;
  if (old.metadata.deletionTimestamp) {
    meta.deletionTimestamp = old.metadata.deletionTimestamp;
    meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
  } else {
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
  }
  const oldGeneration = old.metadata.generation ?? 1;
  meta.generation = semanticallyEqual(specOf(next), specOf(old)) ? oldGeneration : oldGeneration + 1;
  return next;
}

export function validateUpdate(def: ResourceDefinition, obj: KubeObject, old: KubeObject): void {
  const errors = [
    ...validateMetadata(def, obj),
    ...validateObjectMetaUpdate(obj.metadata, old.metadata),
    ...def.validate(obj),
    ...def.validateUpdate(obj, old),
  ];
  throwIfInvalid(def, obj, errors);
}

function validateMetadata(def: ResourceDefinition, obj: KubeObject): FieldError[] {
  return [...validateObjectMeta(obj.metadata, def.namespaced), ...validateManagedFields(obj.metadata.managedFields ?? [])];
}

export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
