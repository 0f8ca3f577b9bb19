// The one generic store that serves every resource (k8s.io/apiserver's genericregistry.Store): it runs each write
// through the strategy steps, the field manager and optimistic concurrency, and reads through the watch cache.
import type { ObjectLookup, ResourceDefinition } from '../api/definition.ts';
import {
  OPTIMISTIC_LOCK_MESSAGE,
  type QualifiedResource,
  StatusError,
  alreadyExists,
  badRequest,
  conflict,
  gone,
  internalError,
  invalid,
  notFound,
  serviceUnavailable,
  timeout,
} from '../api/errors.ts';
import type { KubeList, KubeObject, Status } from '../api/meta.ts';
import { StorageError, type Storage } from '../storage/interface.ts';
import { apply as applyFields, fieldManagerScope, update as updateFields, type FieldManagerScope } from './fieldmanager/index.ts';
import { applyJsonPatch } from './jsonpatch.ts';
import { mergePatch } from './mergepatch.ts';
import type { DeleteOptions, FieldValidation, ListOptions } from './options.ts';
import { decodeContinue, encodeContinue, parseResourceVersion } from './options.ts';
import { selectorFor, type ObjectSelector } from './selection.ts';
import {
  decodeObject,
  deepClone,
  prepareForCreate,
  prepareForUpdate,
  rfc3339,
  validateCreate,
  validateUpdate,
} from './strategy.ts';

export interface WriteOptions {
  dryRun: boolean;
  fieldManager: string;
  fieldValidation: FieldValidation;
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** True when the write created the object (201 rather than 200). */
  created: boolean;
}

/** What an admission check learns about a create. */
export interface CreateAttributes {
  resource: QualifiedResource;
  namespace: string;
  /** The object's name, or its generateName prefix before a name is generated. */
  name: string;
}

/**
 * A check every create into a namespace passes before the strategy runs, as k8s.io/apiserver's admission chain
 * (NamespaceLifecycle): it throws a StatusError to refuse. Absent in standalone mode, where there are no namespaces.
 */
export type AdmitCreate = (attributes: CreateAttributes) => Promise<void>;

/** What an admission check learns about a delete: the object as it is when the DELETE arrives. */
export interface DeleteAttributes {
  resource: QualifiedResource;
  object: KubeObject;
}

/**
 * A check every DELETE passes before anything is written (a validating admission plugin on the delete path): it
 * throws a StatusError to refuse. Runs for each object of a collection delete too.
 */
export type AdmitDelete = (attributes: DeleteAttributes) => void | Promise<void>;

export interface StoreOptions {
  admitCreate?: AdmitCreate;
  admitDelete?: AdmitDelete;
  /** Reads other resources' objects, for a definition's `validateReferences` (the Registry gives every store one). */
  lookup?: ObjectLookup;
  now?: () => Date;
}

export type StatusSubresource = '' | 'status';
export type PatchKind = 'merge' | 'json' | 'apply';

const MAX_UPDATE_ATTEMPTS = 8;
/** How long a list or watch waits for a resourceVersion the store has not reached yet. */
const FUTURE_REVISION_WAIT_MS = 3000;

export class ResourceStore {
  readonly def: ResourceDefinition;
  readonly storage: Storage;
  private readonly now: () => Date;
  private readonly scope: FieldManagerScope;
  private readonly admitCreate: AdmitCreate | undefined;
  private readonly admitDelete: AdmitDelete | undefined;
  private readonly lookup: ObjectLookup | undefined;

  constructor(def: ResourceDefinition, storage: Storage, options: StoreOptions = {}) {
    this.def = def;
    this.storage = storage;
    this.now = options.now ?? (() => new Date());
    this.admitCreate = options.admitCreate;
    this.admitDelete = options.admitDelete;
    this.lookup = options.lookup;
    this.scope = fieldManagerScope(def);
  }

  get qualified() {
    return { group: this.def.group, resource: this.def.plural };
  }

  get apiVersion(): string {
    return `${this.def.group}/${this.def.version}`;
  }

  /** `/strongroom.dev/databases/` for all namespaces, `/strongroom.dev/databases/<ns>/` for one. */
  prefix(namespace: string | undefined): string {
    const root = `/${this.def.group}/${this.def.plural}/`;
    return this.def.namespaced && namespace ? `${root}${namespace}/` : root;
  }

  key(namespace: string | undefined, name: string): string {
    return this.def.namespaced ? `${this.prefix(undefined)}${namespace}/${name}` : `${this.prefix(undefined)}${name}`;
  }

  async get(namespace: string | undefined, name: string): Promise<KubeObject> {
    const obj = await this.read(this.key(namespace, name));
    if (!obj) throw notFound(this.qualified, name);
    return obj;
  }

  async list(namespace: string | undefined, options: ListOptions): Promise<KubeList> {
    const selector = selectorFor(this.def, options);
    let revision: number | undefined;
    let startAfter = '';
    if (options.continue) {
      const token = decodeContinue(options.continue);
      revision = token.rv;
      startAfter = token.start;
    } else if (options.resourceVersion && options.resourceVersion !== '0') {
      const rv = parseResourceVersion(options.resourceVersion);
      if (options.resourceVersionMatch === 'Exact') revision = rv;
      else await this.waitForRevision(rv);
    }
    const { items, revision: listRevision } = await this.readList(this.prefix(namespace), revision, Boolean(options.continue));
    const matching = selector.empty ? items : items.filter((obj) => selector.matches(obj));
    let start = 0;
    if (startAfter) {
      // Lists come in key order: a binary search finds the page's start, where a scan made paging through n objects
      // cost n²/limit key comparisons.
      const keyOf = (obj: KubeObject) => this.key(obj.metadata.namespace, obj.metadata.name!);
      let end = matching.length;
      while (start < end) {
        const mid = (start + end) >>> 1;
        if (keyOf(matching[mid]!) <= startAfter) start = mid + 1;
        else end = mid;
      }
    }
    const limit = options.limit && options.limit > 0 ? options.limit : matching.length;
    const page = matching.slice(start, start + limit);
    const list: KubeList = {
      apiVersion: this.apiVersion,
      kind: this.def.listKind,
      metadata: { resourceVersion: String(listRevision) },
      items: page,
    };
    const remaining = matching.length - start - page.length;
    if (remaining > 0) {
      const last = page[page.length - 1]!;
      list.metadata.continue = encodeContinue({ rv: listRevision, start: this.key(last.metadata.namespace, last.metadata.name!) });
      if (selector.empty) list.metadata.remainingItemCount = remaining;
    }
    return list;
  }

  async create(namespace: string | undefined, body: unknown, options: WriteOptions): Promise<WriteResult> {
    const { obj, warnings } = decodeObject(this.def, body, options.fieldValidation);
    return this.createDecoded(namespace, obj, options, warnings);
  }

  private async createDecoded(namespace: string | undefined, obj: KubeObject, options: WriteOptions, warnings: string[]): Promise<WriteResult> {
    await this.admit(namespace, obj.metadata.name || obj.metadata.generateName || '');
    const now = this.now();
    prepareForCreate(this.def, obj, namespace, now);
    if (!obj.metadata.name) {
      throw invalid(this.def.kind, this.def.group, '', [{ type: 'FieldValueRequired', field: 'metadata.name', message: 'name or generateName is required' }]);
    }
    validateCreate(this.def, obj);
    await this.validateReferences(obj);
    const managed = updateFields({ ...this.scope, live: undefined, updated: obj, manager: options.fieldManager, now }).object;
    const allWarnings = [...warnings, ...this.def.warnings(managed)];
    const key = this.key(obj.metadata.namespace, obj.metadata.name);
    if (options.dryRun) {
      if (await this.read(key)) throw alreadyExists(this.qualified, obj.metadata.name);
      return { object: managed, warnings: allWarnings, created: true };
    }
    try {
      return { object: await this.storage.create(key, managed), warnings: allWarnings, created: true };
    } catch (err) {
      throw this.translate(err, obj.metadata.name);
    }
  }

  private async admit(namespace: string | undefined, name: string): Promise<void> {
    if (this.admitCreate && this.def.namespaced && namespace) await this.admitCreate({ resource: this.qualified, namespace, name });
  }

  /** The definition's checks against other objects, once the object itself is valid. */
  private async validateReferences(obj: KubeObject): Promise<void> {
    if (!this.def.validateReferences) return;
    if (!this.lookup) throw internalError(`${this.def.plural} refer to other objects, and this store has no lookup to read them`);
    const errors = await this.def.validateReferences(obj, this.lookup);
    if (errors.length > 0) throw invalid(this.def.kind, this.def.group, obj.metadata.name!, errors);
  }

  /** PUT: a full replacement guarded by the body's resourceVersion (required, as for custom resources). */
  async update(namespace: string | undefined, name: string, body: unknown, subresource: StatusSubresource, options: WriteOptions): Promise<WriteResult> {
    const { obj, warnings } = decodeObject(this.def, body, options.fieldValidation);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    if (this.def.namespaced && obj.metadata.namespace && obj.metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (!obj.metadata.resourceVersion) {
      throw invalid(this.def.kind, this.def.group, name, [
        { type: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'must be specified for an update' },
      ]);
    }
    const current = await this.get(namespace, name);
    if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
    }
    try {
      return await this.writeUpdate(current, obj, subresource, options, warnings, 'Update');
    } catch (err) {
      throw this.translate(err, name);
    }
  }

  /**
   * PATCH: applied to the newest object and retried on a concurrent write — unless the patch itself carries a
   * resourceVersion, which then acts as a precondition (the garbage collector relies on that).
   */
  async patch(
    namespace: string | undefined,
    name: string,
    kind: PatchKind,
    patch: unknown,
    subresource: StatusSubresource,
    options: WriteOptions & { force: boolean },
  ): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(this.key(namespace, name));
      if (!current) {
        if (kind !== 'apply' || subresource !== '') throw notFound(this.qualified, name);
        return this.applyCreate(namespace, name, patch, options);
      }
      try {
        if (kind === 'apply') return await this.applyUpdate(current, patch, subresource, options);
        const patched = kind === 'merge' ? mergePatch(current, patch) : applyJsonPatch(current, patch);
        const { obj, warnings } = decodeObject(this.def, patched, options.fieldValidation);
        checkUnchangedIdentity(name, namespace, obj);
        if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
          throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
        }
        return await this.writeUpdate(current, obj, subresource, options, warnings, 'Update');
      } catch (err) {
        if (!isConcurrentWrite(err) || attempt >= MAX_UPDATE_ATTEMPTS) throw this.translate(err, name);
      }
    }
  }

  private async applyCreate(namespace: string | undefined, name: string, patch: unknown, options: WriteOptions & { force: boolean }): Promise<WriteResult> {
    const { obj, warnings } = decodeObject(this.def, deepClone(patch), options.fieldValidation);
    checkUnchangedIdentity(name, namespace, obj);
    obj.metadata.name = name;
    await this.admit(namespace, name);
    const now = this.now();
    const applied = applyFields({ ...this.scope, live: undefined, applied: obj, manager: options.fieldManager, force: options.force, now }).object;
    prepareForCreate(this.def, applied, namespace, now);
    validateCreate(this.def, applied);
    await this.validateReferences(applied);
    const key = this.key(applied.metadata.namespace, name);
    if (options.dryRun) return { object: applied, warnings, created: true };
    try {
      return { object: await this.storage.create(key, applied), warnings: [...warnings, ...this.def.warnings(applied)], created: true };
    } catch (err) {
      throw this.translate(err, name);
    }
  }

  private async applyUpdate(current: KubeObject, patch: unknown, subresource: StatusSubresource, options: WriteOptions & { force: boolean }): Promise<WriteResult> {
    const name = current.metadata.name!;
    const { obj, warnings } = decodeObject(this.def, deepClone(patch), options.fieldValidation);
    checkUnchangedIdentity(name, current.metadata.namespace, obj);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
    }
    const merged = applyFields({
      ...this.scope,
      live: current,
      applied: obj,
      manager: options.fieldManager,
      force: options.force,
      subresource,
      now: this.now(),
    }).object;
    return this.writeUpdate(current, merged, subresource, options, warnings, 'Apply');
  }

  private async writeUpdate(
    current: KubeObject,
    obj: KubeObject,
    subresource: StatusSubresource,
    options: WriteOptions,
    warnings: string[],
    operation: 'Update' | 'Apply',
  ): Promise<WriteResult> {
    const name = current.metadata.name!;
    let next = prepareForUpdate(this.def, obj, current, subresource);
    validateUpdate(this.def, next, current);
    if (operation === 'Update') {
      next = updateFields({ ...this.scope, live: current, updated: next, manager: options.fieldManager, subresource, now: this.now() }).object;
    }
    const allWarnings = [...warnings, ...this.def.warnings(next)];
    const key = this.key(current.metadata.namespace, name);
    // Removing the last finalizer of an object that is being deleted completes the deletion.
    const finishDeletion = Boolean(next.metadata.deletionTimestamp) && (next.metadata.finalizers ?? []).length === 0;
    if (options.dryRun) return { object: next, warnings: allWarnings, created: false };
    try {
      const revision = parseResourceVersion(current.metadata.resourceVersion!);
      if (finishDeletion) {
        await this.storage.update(key, next, revision).then((stored) => this.storage.delete(key, parseResourceVersion(stored.metadata.resourceVersion!)));
        return { object: next, warnings: allWarnings, created: false };
      }
      if (isDeepStrictEqualObject(next, current)) return { object: current, warnings: allWarnings, created: false };
      return { object: await this.storage.update(key, next, revision), warnings: allWarnings, created: false };
    } catch (err) {
      throw isConcurrentWrite(err) ? err : this.translate(err, name);
    }
  }

  /**
   * DELETE: with finalizers (the object's own, or the one a Foreground / Orphan propagation adds) the object stays
   * with a deletionTimestamp until they are removed; otherwise it is gone at once.
   */
  async delete(namespace: string | undefined, name: string, options: DeleteOptions): Promise<{ status: number; body: KubeObject | Status }> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(namespace, name);
      checkPreconditions(this.qualified, name, current, options);
      await this.admitDelete?.({ resource: this.qualified, object: current });
      try {
        return await this.deleteCurrent(current, options);
      } catch (err) {
        if (!isConcurrentWrite(err) || attempt >= MAX_UPDATE_ATTEMPTS || options.preconditions?.resourceVersion) {
          throw this.translate(err, name);
        }
      }
    }
  }

  private async deleteCurrent(current: KubeObject, options: DeleteOptions): Promise<{ status: number; body: KubeObject | Status }> {
    const name = current.metadata.name!;
    const key = this.key(current.metadata.namespace, name);
    const revision = parseResourceVersion(current.metadata.resourceVersion!);
    const finalizers = [...(current.metadata.finalizers ?? [])];
    const propagationFinalizer =
      options.propagationPolicy === 'Foreground' ? 'foregroundDeletion' : options.propagationPolicy === 'Orphan' ? 'orphan' : undefined;
    if (propagationFinalizer && !current.metadata.deletionTimestamp && !finalizers.includes(propagationFinalizer)) {
      finalizers.push(propagationFinalizer);
    }
    if (finalizers.length > 0) {
      if (current.metadata.deletionTimestamp) return { status: 200, body: current };
      const next = deepClone(current);
      next.metadata.finalizers = finalizers;
      next.metadata.deletionTimestamp = rfc3339(this.now());
      next.metadata.deletionGracePeriodSeconds = 0;
      if (options.dryRun) return { status: 200, body: next };
      return { status: 200, body: await this.storage.update(key, next, revision) };
    }
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group: this.def.group, kind: this.def.plural, uid: current.metadata.uid! },
      code: 200,
    };
    if (options.dryRun) return { status: 200, body: status };
    await this.storage.delete(key, revision);
    return { status: 200, body: status };
  }

  async deleteCollection(namespace: string | undefined, listOptions: ListOptions, options: DeleteOptions): Promise<KubeList> {
    const list = await this.list(namespace, { ...listOptions, limit: 0, continue: '' });
    const deleted: KubeObject[] = [];
    // As upstream: one refused object (deletion protection, say) does not spare the others; the first error is
    // answered once every object has been tried.
    let failure: unknown;
    for (const item of list.items) {
      try {
        const result = await this.delete(item.metadata.namespace, item.metadata.name!, { ...options, preconditions: undefined });
        deleted.push(result.body.kind === 'Status' ? item : (result.body as KubeObject));
      } catch (err) {
        // Something deleted it meanwhile: that is the outcome we wanted.
        if (!(err instanceof StatusError && err.code === 404)) failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return { ...list, items: deleted };
  }

  /** The object as the store has it now, or undefined. */
  async read(key: string): Promise<KubeObject | undefined> {
    try {
      return await this.storage.get(key);
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async readList(prefix: string, revision: number | undefined, forContinue: boolean): Promise<{ items: KubeObject[]; revision: number }> {
    try {
      return await this.storage.list(prefix, revision === undefined || revision === this.storage.currentRevision() ? {} : { revision });
    } catch (err) {
      if (err instanceof StorageError && err.code === 'Expired') {
        throw gone(
          forContinue
            ? 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.'
            : `The resourceVersion for the provided list is too old.`,
        );
      }
      throw this.translate(err, prefix);
    }
  }

  /** Waits (briefly) until the store has reached `revision`, as the watch cache does for NotOlderThan reads. */
  async waitForRevision(revision: number): Promise<void> {
    const deadline = Date.now() + FUTURE_REVISION_WAIT_MS;
    while (this.storage.currentRevision() < revision) {
      if (Date.now() >= deadline) throw tooLargeResourceVersion(revision, this.storage.currentRevision());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  selector(options: ListOptions): ObjectSelector {
    return selectorFor(this.def, options);
  }

  translate(err: unknown, name: string): Error {
    if (err instanceof StatusError) return err;
    if (err instanceof StorageError) {
      switch (err.code) {
        case 'NotFound':
          return notFound(this.qualified, lastSegment(name));
        case 'AlreadyExists':
          return alreadyExists(this.qualified, lastSegment(name));
        case 'Conflict':
          return conflict(this.qualified, lastSegment(name), OPTIMISTIC_LOCK_MESSAGE);
        case 'Expired':
          return gone(err.message);
        case 'TooLargeResourceVersion':
          return tooLargeResourceVersion(Number.NaN, err.currentRevision ?? 0);
        case 'Unavailable':
          return serviceUnavailable(err.message);
      }
    }
    return internalError(err instanceof Error ? err.message : String(err));
  }
}

export function tooLargeResourceVersion(asked: number, current: number): StatusError {
  return timeout(`Too large resource version: ${Number.isNaN(asked) ? '' : asked}, current: ${current}`, [
    { reason: 'ResourceVersionTooLarge', message: 'Too large resource version' },
  ]);
}

function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** Another writer changed the object between our read and our write: re-reading and trying again is safe. */
function isConcurrentWrite(err: unknown): err is StorageError {
  return err instanceof StorageError && err.code === 'Conflict';
}

function isDeepStrictEqualObject(a: KubeObject, b: KubeObject): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function checkUnchangedIdentity(name: string, namespace: string | undefined, obj: KubeObject): void {
  if (obj.metadata.name && obj.metadata.name !== name) {
    throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
  }
  if (namespace && obj.metadata.namespace && obj.metadata.namespace !== namespace) {
    throw badRequest(`the namespace of the provided object does not match the namespace sent on the request`);
  }
}

function checkPreconditions(qualified: { group: string; resource: string }, name: string, current: KubeObject, options: DeleteOptions): void {
  const pre = options.preconditions;
  if (pre?.uid && pre.uid !== current.metadata.uid) {
    throw conflict(qualified, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
  }
  if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
    throw conflict(
      qualified,
      name,
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
    );
  }
}
