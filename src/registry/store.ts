// The one generic store that serves every resource (k8s.io/apiserver's genericregistry.Store): it reads through the
// watch cache, runs each write through the write pipeline (pipeline.ts) and stores the outcome with optimistic
// concurrency, starting again from a new read when another writer got in between.
import type { ResourceDefinition } from '../api/definition.ts';
import {
  OPTIMISTIC_LOCK_MESSAGE,
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
import { Admission } from '../admission/chain.ts';
import type { UserInfo } from '../server/authentication.ts';
import { isNoOpUpdate } from './equality.ts';
import { apply as applyFields, fieldManagerScope, type FieldManagerScope } from './fieldmanager/index.ts';
import { applyJsonPatch } from './jsonpatch.ts';
import { mergePatch } from './mergepatch.ts';
import type { DeleteOptions, ListOptions } from './options.ts';
import { decodeContinue, encodeContinue, parseResourceVersion } from './options.ts';
import { selectorFor, type ObjectSelector } from './selection.ts';
import { WritePipeline, type PipelineInput, type WriteRequest, type WriteSubresource } from './pipeline.ts';
import { decodeObject, deepClone, rfc3339 } from './strategy.ts';

export type { WriteRequest as WriteOptions, WriteSubresource } from './pipeline.ts';

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
  /** True when the write created the object (201 rather than 200). */
  created: boolean;
}

export interface DeleteResult {
  status: number;
  body: KubeObject | Status;
  warnings: string[];
}

export interface StoreOptions {
  /** The admission chain every write passes (none by default). */
  admission?: Admission;
  now?: () => Date;
}

export type PatchKind = 'merge' | 'json' | 'apply';

/**
 * How a write turns the stored object (undefined: there is none) into the one it asks for — a PUT's body, a patch
 * applied to it, an apply merged into it, a Scale's replicas put into it (upstream's UpdatedObjectInfo). Run again
 * on the newest object when a concurrent write got in between.
 */
export type UpdatedObject = (current: KubeObject | undefined) => { obj: KubeObject } & PipelineInput;

const MAX_UPDATE_ATTEMPTS = 8;
/** How long a list or watch waits for a resourceVersion the store has not reached yet. */
const FUTURE_REVISION_WAIT_MS = 3000;

export class ResourceStore {
  readonly def: ResourceDefinition;
  readonly storage: Storage;
  readonly pipeline: WritePipeline;
  private readonly now: () => Date;
  private readonly scope: FieldManagerScope;

  constructor(def: ResourceDefinition, storage: Storage, options: StoreOptions = {}) {
    this.def = def;
    this.storage = storage;
    this.now = options.now ?? (() => new Date());
    this.scope = fieldManagerScope(def);
    this.pipeline = new WritePipeline(def, options.admission ?? new Admission(), this.now);
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

  async create(namespace: string | undefined, body: unknown, request: WriteRequest): Promise<WriteResult> {
    const { obj, warnings } = decodeObject(this.def, body, request.fieldValidation);
    return this.createObject(namespace, obj, request, { warnings, applied: false });
  }

  /** Runs the create pipeline over a decoded object and stores the outcome (a dry run stores nothing). */
  private async createObject(namespace: string | undefined, obj: KubeObject, request: WriteRequest, input: PipelineInput): Promise<WriteResult> {
    const { object, warnings } = await this.pipeline.create(obj, namespace, request, input);
    const name = object.metadata.name!;
    const key = this.key(object.metadata.namespace, name);
    try {
      if (request.dryRun) {
        if (await this.read(key)) throw alreadyExists(this.qualified, name);
        return { object, warnings, created: true };
      }
      return { object: await this.storage.create(key, object), warnings, created: true };
    } catch (err) {
      throw this.translate(err, name);
    }
  }

  /** PUT: a full replacement guarded by the body's resourceVersion (required, as for custom resources). */
  update(namespace: string | undefined, name: string, body: unknown, subresource: WriteSubresource, request: WriteRequest): Promise<WriteResult> {
    return this.guaranteedUpdate(namespace, name, subresource, request, () => ({ ...decodeObject(this.def, deepClone(body), request.fieldValidation), applied: false }));
  }

  /**
   * PATCH: applied to the newest object and retried on a concurrent write — unless the patch itself carries a
   * resourceVersion, which then acts as a precondition (the garbage collector relies on that). An apply to an
   * object that does not exist creates it.
   */
  patch(
    namespace: string | undefined,
    name: string,
    kind: PatchKind,
    patch: unknown,
    subresource: WriteSubresource,
    request: WriteRequest & { force: boolean },
  ): Promise<WriteResult> {
    if (kind === 'apply') {
      return this.guaranteedUpdate(namespace, name, subresource, request, (current) => {
        const { obj, warnings } = decodeObject(this.def, deepClone(patch), request.fieldValidation);
        if (current && obj.metadata.resourceVersion && obj.metadata.resourceVersion !== current.metadata.resourceVersion) {
          throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
        }
        const options = { live: current, applied: obj, manager: request.fieldManager, force: request.force, subresource, now: this.now() };
        const applied = applyFields({ ...this.scope, ...options }).object;
        return { obj: applied, warnings, applied: true };
      }, true);
    }
    return this.guaranteedUpdate(namespace, name, subresource, request, (current) => {
      const patched = kind === 'merge' ? mergePatch(current!, patch) : applyJsonPatch(current!, patch);
      return { ...decodeObject(this.def, patched, request.fieldValidation), applied: false };
    });
  }

  /**
   * Every update, whatever its body: read the newest object, let the request compute the object it asks for, run
   * the update pipeline (or the create pipeline when an apply creates) and store the outcome, guarded by the
   * revision read. A concurrent write in between makes it start again from a new read.
   */
  async guaranteedUpdate(
    namespace: string | undefined,
    name: string,
    subresource: WriteSubresource,
    request: WriteRequest,
    updated: UpdatedObject,
    allowCreate = false,
  ): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(this.key(namespace, name));
      try {
        // Only server-side apply creates, and only through the resource itself.
        if (!current && !(allowCreate && subresource === '')) throw notFound(this.qualified, name);
        const { obj, ...input } = updated(current);
        checkUnchangedIdentity(name, namespace, obj);
        obj.metadata.name = name;
        if (!current) return await this.createObject(namespace, obj, request, input);
        if (!obj.metadata.resourceVersion) {
          throw invalid(this.def.kind, this.def.group, name, [
            { type: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'must be specified for an update' },
          ]);
        }
        if (obj.metadata.resourceVersion !== current.metadata.resourceVersion) throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
        const outcome = await this.pipeline.update(current, obj, subresource, request, input);
        return await this.storeUpdate(current, outcome.object, request.dryRun, outcome.warnings);
      } catch (err) {
        if (!isConcurrentWrite(err) || attempt >= MAX_UPDATE_ATTEMPTS) throw this.translate(err, name);
      }
    }
  }

  private async storeUpdate(current: KubeObject, next: KubeObject, dryRun: boolean, warnings: string[]): Promise<WriteResult> {
    const key = this.key(current.metadata.namespace, current.metadata.name!);
    // Removing the last finalizer of an object that is being deleted completes the deletion.
    const finishDeletion = Boolean(next.metadata.deletionTimestamp) && (next.metadata.finalizers ?? []).length === 0;
    if (!finishDeletion && isNoOpUpdate(next, current)) return { object: current, warnings, created: false };
    if (dryRun) return { object: next, warnings, created: false };
    const revision = parseResourceVersion(current.metadata.resourceVersion!);
    if (!finishDeletion) return { object: await this.storage.update(key, next, revision), warnings, created: false };
    const stored = await this.storage.update(key, next, revision);
    await this.storage.delete(key, parseResourceVersion(stored.metadata.resourceVersion!));
    return { object: next, warnings, created: false };
  }

  /**
   * DELETE: with finalizers (the object's own, or the one a Foreground / Orphan propagation adds) the object stays
   * with a deletionTimestamp until they are removed; otherwise it is gone at once.
   */
  async delete(namespace: string | undefined, name: string, options: DeleteOptions, user: UserInfo): Promise<DeleteResult> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(namespace, name);
      checkPreconditions(this.qualified, name, current, options);
      const warnings = await this.pipeline.delete(current, options, user);
      try {
        return { ...(await this.deleteCurrent(current, options)), warnings };
      } catch (err) {
        if (!isConcurrentWrite(err) || attempt >= MAX_UPDATE_ATTEMPTS || options.preconditions?.resourceVersion) {
          throw this.translate(err, name);
        }
      }
    }
  }

  private async deleteCurrent(current: KubeObject, options: DeleteOptions): Promise<Omit<DeleteResult, 'warnings'>> {
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

  async deleteCollection(namespace: string | undefined, listOptions: ListOptions, options: DeleteOptions, user: UserInfo): Promise<{ list: KubeList; warnings: string[] }> {
    const list = await this.list(namespace, { ...listOptions, limit: 0, continue: '' });
    const deleted: KubeObject[] = [];
    const warnings: string[] = [];
    // As upstream: one refused object (deletion protection, say) does not spare the others; the first error is
    // answered once every object has been tried.
    let failure: unknown;
    for (const item of list.items) {
      try {
        const result = await this.delete(item.metadata.namespace, item.metadata.name!, { ...options, preconditions: undefined }, user);
        warnings.push(...result.warnings);
        deleted.push(result.body.kind === 'Status' ? item : (result.body as KubeObject));
      } catch (err) {
        // Something deleted it meanwhile: that is the outcome we wanted.
        if (!(err instanceof StatusError && err.code === 404)) failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return { list: { ...list, items: deleted }, warnings };
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
