// Server-side apply and managedFields for our resources, as kube-apiserver's field manager does them for CRDs
// (apimachinery pkg/util/managedfields: FieldManager wrapping versionCheck → lastAppliedUpdater → lastAppliedManager →
// skipNonApplied → capManagers → buildManagerInfo → managedFieldsUpdater → stripMeta → structuredMerge). Each step of
// that chain is one function here. Pure: no IO, and the caller supplies the clock.
import type { JSONSchemaProps, ResourceDefinition } from '../../api/definition.ts';
import { badRequest, invalid, StatusError } from '../../api/errors.ts';
import type { KubeObject } from '../../api/meta.ts';
import { compareValues, type Comparison } from './compare.ts';
import { applyConflictError } from './conflict.ts';
import { FieldSet } from './fieldset.ts';
import { compareStrings } from './gofmt.ts';
import { fieldsFromLastApplied, KUBECTL, refreshLastApplied } from './lastapplied.ts';
import {
  decodeManagedFields,
  emptyManaged,
  encodeManagedFields,
  formatTime,
  isResetManagedFields,
  managerIdentifier,
  readManagedFields,
  type DecodedEntry,
  type Managed,
} from './managedfields.ts';
import { validateApplyFieldManager } from './manager.ts';
import { dropNonNullableNulls } from './nulls.ts';
import { fieldPath } from './path.ts';
import { objectType, withKubeNativeProperties } from './schema.ts';
import { toFieldSet } from './tofieldset.ts';
import { formatValidationErrors, TypedValueError } from './typed.ts';
import { applyConfig, Conflicts, updateManagers, type Scope, type VersionedSet } from './updater.ts';
import { validate } from './validate.ts';
import { isMap, type Value, type ValueMap } from './value.ts';

/** What the field manager needs to know about a resource. */
export interface FieldManagerScope {
  /** The resource's group/version, e.g. `strongroom.dev/v1alpha1`; entries of Update operations record it. */
  readonly apiVersion: string;
  readonly kind: string;
  /** The whole object's schema (ResourceDefinition.schema). */
  readonly schema: JSONSchemaProps;
  /** With a status subresource, writes to the main resource never own `status`. */
  readonly statusSubresource: boolean;
}

export function fieldManagerScope(def: ResourceDefinition): FieldManagerScope {
  return { apiVersion: `${def.group}/${def.version}`, kind: def.kind, schema: def.schema, statusSubresource: def.subresources.status };
}

export interface ApplyOptions extends FieldManagerScope {
  /** The stored object; undefined when the apply creates it. */
  readonly live: KubeObject | undefined;
  /** The decoded apply patch (application/apply-patch+yaml). */
  readonly applied: Record<string, unknown>;
  /** The `fieldManager` query parameter (required). */
  readonly manager: string;
  readonly force?: boolean;
  /** `status` for /status; empty or undefined for the resource itself. */
  readonly subresource?: string;
  readonly now: Date;
}

export interface UpdateOptions extends FieldManagerScope {
  /** The stored object; undefined on create. */
  readonly live: KubeObject | undefined;
  /** The object about to be stored (after PUT, merge or JSON patch); its managedFields are honoured as upstream does. */
  readonly updated: KubeObject;
  /** `fieldManager`, or `managerFromUserAgent(userAgent)` when the request named none. */
  readonly manager: string;
  /**
   * `status` for /status. For /scale, pass `scale` with `updated` being the stored object with the new replicas: the
   * writer then owns the replicas path of the parent, which is where upstream's ScaleHandler puts it.
   */
  readonly subresource?: string;
  readonly now: Date;
}

/** An object that does not fit its schema, as typed conversion reports it. */
class ObjectTypeError extends Error {}

/** stripmeta.go: fields nobody owns. */
const NEVER_OWNED = FieldSet.of(
  fieldPath('apiVersion'),
  fieldPath('kind'),
  fieldPath('metadata'),
  ...['name', 'namespace', 'creationTimestamp', 'selfLink', 'uid', 'clusterName', 'generation', 'managedFields', 'resourceVersion'].map((f) =>
    fieldPath(`metadata.${f}`),
  ),
);

/** Internal manager names, as upstream spells them. */
const CURRENT_OPERATION = 'current-operation';
const BEFORE_FIRST_APPLY = 'before-first-apply';
const ANCIENT_CHANGES = 'ancient-changes';
/** DefaultMaxUpdateManagers: older Update entries are folded into `ancient-changes` past this count. */
const MAX_UPDATE_MANAGERS = 10;

interface Context {
  readonly scope: Scope;
  readonly apiVersion: string;
  readonly kind: string;
  readonly subresource: string;
  readonly now: string;
  readonly nullSchema: JSONSchemaProps;
}

function contextOf(o: FieldManagerScope & { subresource?: string; now: Date }): Context {
  const subresource = o.subresource ?? '';
  return {
    scope: { type: objectType(o.schema), ignored: resetFields(o.statusSubresource, subresource) },
    apiVersion: o.apiVersion,
    kind: o.kind,
    subresource,
    now: formatTime(o.now),
    nullSchema: withKubeNativeProperties(o.schema),
  };
}

/** The strategies' GetResetFields for custom resources: what a write through each endpoint can never own. */
function resetFields(statusSubresource: boolean, subresource: string): FieldSet {
  if (subresource === 'status') return FieldSet.of(fieldPath('metadata'), fieldPath('spec'));
  if (subresource === '' && statusSubresource) return FieldSet.of(fieldPath('status'));
  return new FieldSet();
}

/**
 * Server-side apply: merges `applied` into the live object for `manager` and records its ownership. Throws 409
 * Conflict (FieldManagerConflict causes) when it would change fields other managers own and `force` is not set,
 * 422 for a missing or bad fieldManager, 400 for a wrong apiVersion/kind or a body carrying managedFields, 500 when
 * the body does not fit the schema (as upstream). An apply that changes nothing returns the live object, with its
 * managedFields updated if ownership changed. Nulls the schema does not allow are dropped, as the Go server's schema
 * coercion does before storing; the caller runs defaulting, validation and storage afterwards.
 */
export function apply(o: ApplyOptions): { object: KubeObject } {
  const managerErrors = validateApplyFieldManager(o.manager);
  if (managerErrors.length > 0) throw invalid('PatchOptions', 'meta.k8s.io', '', managerErrors);
  const ctx = contextOf(o);
  const live: ValueMap = o.live ? (structuredClone(o.live) as unknown as ValueMap) : emptyObject(ctx);
  let managed: Managed;
  try {
    managed = decodeManagedFields(readManagedFields(metadataOf(live)?.managedFields) ?? []);
  } catch (err) {
    throw unknownError(`failed to decode managed fields: ${(err as Error).message}`);
  }
  const applied = o.applied as ValueMap;
  const gvk = groupVersionKind(applied);
  if (gvk !== groupVersionKind(emptyObject(ctx))) throw badRequest(`invalid object type: ${gvk}`);
  delete metadataOf(live)?.managedFields;

  let result: { object: ValueMap; managed: Managed };
  try {
    result = applyMigratingClientSideApply(live, applied, managed, o.manager, o.force ?? false, ctx);
  } catch (err) {
    if (err instanceof Conflicts) throw applyConflictError(err.conflicts);
    throw err;
  }
  if (o.manager === KUBECTL) refreshLastApplied(result.object, applied);
  setManagedFields(result.object, result.managed);
  return { object: result.object as unknown as KubeObject };
}

/**
 * Records a non-apply write (create, PUT, merge or JSON patch) by `manager`: fields it added or changed become its
 * own and stop being anyone else's. managedFields sent in `updated` replace the stored ones when they decode and are
 * not empty; `[]` clears them (the object then stays untracked until the next apply); otherwise the stored ones are
 * kept. Subresource writes always keep the stored ones. Never throws for a bad object: like upstream's
 * UpdateNoErrors it then keeps the stored managedFields.
 */
export function update(o: UpdateOptions): { object: KubeObject } {
  const ctx = contextOf(o);
  const live: ValueMap = o.live ? (structuredClone(o.live) as unknown as ValueMap) : emptyObject(ctx);
  const object = structuredClone(o.updated) as unknown as ValueMap;
  const managed = liveOrRequestManaged(live, object, ctx.subresource !== '');
  delete metadataOf(object)?.managedFields;
  const stored = metadataOf(live)?.managedFields;
  delete metadataOf(live)?.managedFields;
  try {
    setManagedFields(object, recordUpdate(live, object, managed, o.manager, ctx));
  } catch (err) {
    if (!(err instanceof ObjectTypeError || err instanceof TypedValueError)) throw err;
    if (stored === undefined) delete metadataOf(object)?.managedFields;
    else ensureMetadata(object).managedFields = stored;
  }
  return { object: object as unknown as KubeObject };
}

/** The fields `obj` sets, in the merge types of `schema` (what an apply of `obj` would own, before stripping). */
export function fieldSetOf(obj: unknown, schema: JSONSchemaProps): FieldSet {
  const type = objectType(schema);
  const errors = validate(obj as Value, type, true);
  if (errors.length > 0) throw new ObjectTypeError(formatValidationErrors(errors));
  return toFieldSet(obj as Value, type);
}

/** Which fields differ between two objects of `schema`. */
export function compareObjects(lhs: unknown, rhs: unknown, schema: JSONSchemaProps): Comparison {
  return compareValues(lhs as Value, rhs as Value, objectType(schema));
}

// --- the update chain -------------------------------------------------------------------------------------------

/** decodeLiveOrNew: whose managedFields the write starts from. */
function liveOrRequestManaged(live: ValueMap, next: ValueMap, ignoreRequest: boolean): Managed {
  const stored = () => decodeOrEmpty(readManagedFields(metadataOf(live)?.managedFields) ?? []);
  if (ignoreRequest) return stored();
  const sent = readManagedFields(metadataOf(next)?.managedFields);
  if (isResetManagedFields(sent)) return emptyManaged();
  // Clients that know nothing of managedFields must not erase them by leaving them out.
  const fromRequest = sent ? decodeOrEmpty(sent) : emptyManaged();
  return fromRequest.fields.size > 0 ? fromRequest : stored();
}

function decodeOrEmpty(entries: readonly DecodedEntry[]): Managed {
  try {
    return decodeManagedFields(entries);
  } catch {
    return emptyManaged();
  }
}

/** skipNonApplied + capManagers around one tracked update. */
function recordUpdate(live: ValueMap, next: ValueMap, managed: Managed, manager: string, ctx: Context): Managed {
  // An existing object without managedFields (they were cleared) is not tracked until the next apply.
  if (managed.fields.size === 0 && uidOf(live)) return managed;
  return capUpdateManagers(updateAs(live, next, managed, manager, ctx));
}

/** buildManagerInfo + managedFieldsUpdater + stripMeta + structuredMerge.Update. */
function updateAs(live: ValueMap, next: ValueMap, managed: Managed, manager: string, ctx: Context): Managed {
  const id = managerIdentifier({ manager: manager || 'unknown', operation: 'Update', apiVersion: ctx.apiVersion, subresource: ctx.subresource });
  const nextValue = asTyped(next, true, (e) => `failed to convert new object (${describeObject(next)}) to smd typed: ${e}`, ctx);
  const liveValue = asTyped(live, true, (e) => `failed to convert live object (${describeObject(live)}) to smd typed: ${e}`, ctx);
  // The write is recorded under a placeholder first, so that the writer's own earlier fields are compared too.
  const fields = updateManagers(ctx.scope, liveValue, nextValue, ctx.apiVersion, managed.fields, CURRENT_OPERATION);
  stripNeverOwned(fields, CURRENT_OPERATION);
  const times = new Map(managed.times);
  const current = fields.get(CURRENT_OPERATION);
  if (current) {
    // The write changed something: it is merged into the writer's entry, whose time moves.
    fields.delete(CURRENT_OPERATION);
    const previous = fields.get(id);
    fields.set(id, previous ? { ...current, set: current.set.union(previous.set) } : current);
    times.set(id, ctx.now);
  }
  return { fields, times };
}

/** capManagers: folds the oldest Update entries into one `ancient-changes` entry per apiVersion. */
function capUpdateManagers(managed: Managed): Managed {
  const updaters = [...managed.fields].filter(([, vs]) => !vs.applied).map(([id]) => id);
  if (updaters.length <= MAX_UPDATE_MANAGERS) return managed;
  const fields = new Map(managed.fields);
  const times = new Map(managed.times);
  const seconds = (id: string) => {
    const t = times.get(id);
    return t ? Math.floor(Date.parse(t) / 1000) : 0;
  };
  updaters.sort((a, b) => seconds(a) - seconds(b) || compareStrings(a, b));
  const firstOfVersion = new Map<string, string>();
  let count = updaters.length;
  for (let i = 0; i < updaters.length && count > MAX_UPDATE_MANAGERS; i++) {
    const id = updaters[i]!;
    const vs = fields.get(id)!;
    const first = firstOfVersion.get(vs.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(vs.apiVersion, id);
      continue;
    }
    const bucket = managerIdentifier({ manager: ANCIENT_CHANGES, operation: 'Update', apiVersion: vs.apiVersion, subresource: '' });
    if (!fields.has(bucket)) {
      fields.set(bucket, fields.get(first)!);
      fields.delete(first);
    }
    fields.set(bucket, { set: vs.set.union(fields.get(bucket)!.set), apiVersion: vs.apiVersion, applied: vs.applied });
    fields.delete(id);
    count--;
    // The bucket takes the time of the newest update folded into it.
    times.set(bucket, times.get(id));
  }
  return { fields, times };
}

// --- the apply chain --------------------------------------------------------------------------------------------

/**
 * lastAppliedManager: a `kubectl` apply whose only conflicts are fields kubectl's client-side apply set (as its
 * annotation shows) is forced, so switching to --server-side does not conflict with kubectl's own earlier writes.
 */
function applyMigratingClientSideApply(live: ValueMap, applied: ValueMap, managed: Managed, manager: string, force: boolean, ctx: Context) {
  try {
    return applyTracked(live, applied, managed, manager, force, ctx);
  } catch (err) {
    if (manager !== KUBECTL || !(err instanceof Conflicts)) throw err;
    const allowed = fieldsFromLastApplied(live, ctx.scope.type, ctx.apiVersion);
    if (!allowed) throw err;
    const remaining = err.conflicts.filter((c) => !allowed.has(c.path));
    if (remaining.length > 0) throw new Conflicts(remaining);
    return applyTracked(live, applied, managed, manager, true, ctx);
  }
}

/** skipNonApplied: before the first apply to an untracked object, what it holds is owned by `before-first-apply`. */
function applyTracked(live: ValueMap, applied: ValueMap, managed: Managed, manager: string, force: boolean, ctx: Context) {
  let tracked = managed;
  if (tracked.fields.size === 0) {
    try {
      tracked = capUpdateManagers(updateAs(emptyObject(ctx), live, tracked, BEFORE_FIRST_APPLY, ctx));
    } catch (err) {
      if (err instanceof ObjectTypeError) throw unknownError(`failed to create manager for existing fields: ${err.message}`);
      throw err;
    }
  }
  return applyAs(live, applied, tracked, manager, force, ctx);
}

/** buildManagerInfo + managedFieldsUpdater + stripMeta + structuredMerge.Apply. */
function applyAs(live: ValueMap, applied: ValueMap, managed: Managed, manager: string, force: boolean, ctx: Context): { object: ValueMap; managed: Managed } {
  const id = managerIdentifier({ manager: manager || 'unknown', operation: 'Apply', apiVersion: '', subresource: ctx.subresource });
  if (readManagedFields(metadataOf(applied)?.managedFields) !== undefined) throw badRequest('metadata.managedFields must be nil');
  let config: Value;
  let liveValue: Value;
  try {
    config = asTyped(applied, false, (e) => `failed to create typed patch object (${describeObject(applied)}): ${e}`, ctx);
    liveValue = asTyped(live, true, (e) => `failed to create typed live object (${describeObject(live)}): ${e}`, ctx);
  } catch (err) {
    if (err instanceof ObjectTypeError) throw unknownError(err.message);
    throw err;
  }
  const { object, managers } = applyConfig(ctx.scope, liveValue, config, ctx.apiVersion, managed.fields, id, force);
  stripNeverOwned(managers, id);
  const times = new Map(managed.times);
  if (object === undefined) return { object: live, managed: { fields: managers, times } };
  times.set(id, ctx.now);
  const merged = structuredClone(object);
  dropNonNullableNulls(merged, ctx.nullSchema);
  return { object: merged as ValueMap, managed: { fields: managers, times } };
}

// --- helpers ----------------------------------------------------------------------------------------------------

function asTyped(obj: ValueMap, allowDuplicates: boolean, describe: (errors: string) => string, ctx: Context): Value {
  const errors = validate(obj, ctx.scope.type, allowDuplicates);
  if (errors.length > 0) throw new ObjectTypeError(describe(formatValidationErrors(errors)));
  return obj;
}

function stripNeverOwned(fields: Map<string, VersionedSet>, id: string): void {
  const vs = fields.get(id);
  if (!vs) return;
  const set = vs.set.difference(NEVER_OWNED);
  if (set.empty()) fields.delete(id);
  else fields.set(id, { ...vs, set });
}

function setManagedFields(object: ValueMap, managed: Managed): void {
  const entries = encodeManagedFields(managed);
  if (entries === undefined) delete metadataOf(object)?.managedFields;
  else ensureMetadata(object).managedFields = entries as unknown as Value;
}

function emptyObject(ctx: Context): ValueMap {
  return { apiVersion: ctx.apiVersion, kind: ctx.kind };
}

function metadataOf(obj: ValueMap): ValueMap | undefined {
  return isMap(obj.metadata) ? obj.metadata : undefined;
}

function ensureMetadata(obj: ValueMap): ValueMap {
  if (!isMap(obj.metadata)) obj.metadata = {};
  return obj.metadata as ValueMap;
}

function uidOf(obj: ValueMap): string {
  const uid = metadataOf(obj)?.uid;
  return typeof uid === 'string' ? uid : '';
}

function stringAt(obj: ValueMap | undefined, key: string): string {
  const v = obj?.[key];
  return typeof v === 'string' ? v : '';
}

/** schema.GroupVersionKind's String(): `strongroom.dev/v1alpha1, Kind=Database`. */
function groupVersionKind(obj: ValueMap): string {
  const apiVersion = stringAt(obj, 'apiVersion');
  const kind = stringAt(obj, 'kind');
  const parts = apiVersion.split('/');
  if (parts.length > 2) return `/, Kind=${kind}`;
  const [group, version] = parts.length === 2 ? parts : ['', parts[0]];
  return `${group}/${version}, Kind=${kind}`;
}

/** objectGVKNN: `ns/name; group/version, Kind=Kind`. */
function describeObject(obj: ValueMap): string {
  const meta = metadataOf(obj);
  return `${stringAt(meta, 'namespace')}/${stringAt(meta, 'name')}; ${groupVersionKind(obj)}`;
}

/** A plain Go error reaching the API handler: 500 without a reason. */
function unknownError(message: string): StatusError {
  return new StatusError(500, '', message);
}
