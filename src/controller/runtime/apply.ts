// Writing children and guarding deletion (controller-runtime's controllerutil, kube-rs's finalizer helper):
// - children are written with server-side apply under one field manager, so the controller states the fields it
//   wants and owns exactly those; `force` takes them back from anyone who edited them by hand;
// - a controller owner reference ties a child to its Database, for garbage collection and for mapping the child's
//   changes back to the Database's key. Our Database lives in the aggregated API; the garbage collector finds it
//   through the aggregator by group, kind and uid like any built-in owner;
// - finalizers are added and removed with JSON patches guarded by a `test`, so a concurrent writer makes the patch
//   fail (and the reconcile retry) instead of being overwritten.
import type { Operation } from 'fast-json-patch';
import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import type { KubeClient } from './client.ts';
import { TerminalError, type ReconcileResult } from './controller.ts';
import { resourcePath, resourceTypeOf } from './kinds.ts';

export const FIELD_MANAGER = 'strongroom';

export interface ApplyOptions {
  /** Default `strongroom`. */
  fieldManager?: string;
  /** Take fields another manager owns. Default true: the controller's desired state wins. */
  force?: boolean;
  signal?: AbortSignal;
}

function pathOf(obj: KubeObject): string {
  return resourcePath(resourceTypeOf(obj.apiVersion, obj.kind), obj.metadata.namespace, obj.metadata.name);
}

/** Server-side apply of `obj` (which names its apiVersion, kind, namespace and name); returns the object as stored. */
export function applyObject<T extends KubeObject>(client: KubeClient, obj: T, options: ApplyOptions = {}): Promise<T> {
  return client.request<T>('PATCH', pathOf(obj), {
    query: { fieldManager: options.fieldManager ?? FIELD_MANAGER, force: options.force ?? true },
    // JSON is YAML: the apply content type takes it as it is.
    body: obj,
    contentType: 'application/apply-patch+yaml',
    signal: options.signal,
  });
}

/** The child is already controlled by another object: retrying cannot fix that. */
export class AlreadyOwnedError extends TerminalError {
  constructor(child: KubeObject, owner: OwnerReference) {
    super(`${child.kind} ${child.metadata.namespace}/${child.metadata.name} is already controlled by ${owner.kind} ${owner.name}`);
    this.name = 'AlreadyOwnedError';
  }
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

/** The owner reference with `controller: true`, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller);
}

/**
 * A copy of `child` whose controller is `owner` (replacing an earlier reference to the same owner). Throws when
 * the child is controlled by something else or when the namespaces make the reference impossible.
 */
export function setControllerReference<T extends KubeObject>(child: T, owner: KubeObject): T {
  const { name, uid, namespace } = owner.metadata;
  if (!name || !uid) throw new Error(`${owner.kind} ${name ?? ''}: an owner needs a name and a uid (read it back first)`);
  if (namespace && child.metadata.namespace !== namespace) {
    const childName = `${child.metadata.namespace ?? ''}/${child.metadata.name}`;
    throw new Error(`${owner.kind} ${namespace}/${name} cannot own ${child.kind} ${childName}: different namespace`);
  }
  const ref: OwnerReference = { apiVersion: owner.apiVersion, kind: owner.kind, name, uid, controller: true, blockOwnerDeletion: true };
  const sameOwner = (other: OwnerReference): boolean =>
    groupOf(other.apiVersion) === groupOf(ref.apiVersion) && other.kind === ref.kind && other.name === ref.name;
  const existing = controllerOf(child);
  if (existing && !sameOwner(existing)) throw new AlreadyOwnedError(child, existing);
  const others = (child.metadata.ownerReferences ?? []).filter((other) => !sameOwner(other));
  return { ...child, metadata: { ...child.metadata, ownerReferences: [...others, ref] } };
}

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

/**
 * The JSON patch that adds `finalizer` to `obj` as read, or undefined if it is there. The `test` pins the list
 * as read; with no list at all it pins the resourceVersion instead, because a `test` for a missing member's `null`
 * (kube-rs's guard) passes on kube-apiserver but fails on RFC 6902 implementations such as Strongroom's own.
 */
export function addFinalizerPatch(obj: KubeObject, finalizer: string): Operation[] | undefined {
  if (hasFinalizer(obj, finalizer)) return undefined;
  const finalizers = obj.metadata.finalizers ?? [];
  if (finalizers.length > 0) {
    return [
      { op: 'test', path: '/metadata/finalizers', value: finalizers },
      { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
    ];
  }
  if (!obj.metadata.resourceVersion) throw new Error(`${obj.kind} ${obj.metadata.name}: adding a finalizer needs the object as read`);
  return [
    { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
    { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
  ];
}

/** The JSON patch that removes `finalizer` from `obj` as read, or undefined if it is not there. */
export function removeFinalizerPatch(obj: KubeObject, finalizer: string): Operation[] | undefined {
  const index = obj.metadata.finalizers?.indexOf(finalizer) ?? -1;
  if (index === -1) return undefined;
  return [
    { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
    { op: 'remove', path: `/metadata/finalizers/${index}` },
  ];
}

async function patchFinalizers<T extends KubeObject>(
  client: KubeClient,
  obj: T,
  patch: Operation[] | undefined,
  signal?: AbortSignal,
): Promise<T> {
  if (!patch) return obj;
  return client.request<T>('PATCH', pathOf(obj), { body: patch, contentType: 'application/json-patch+json', signal });
}

/** Adds `finalizer`; returns the patched object (or `obj` when there was nothing to do). */
export function addFinalizer<T extends KubeObject>(client: KubeClient, obj: T, finalizer: string, signal?: AbortSignal): Promise<T> {
  return patchFinalizers(client, obj, addFinalizerPatch(obj, finalizer), signal);
}

/** Removes `finalizer`; returns the patched object (or `obj` when there was nothing to do). */
export function removeFinalizer<T extends KubeObject>(client: KubeClient, obj: T, finalizer: string, signal?: AbortSignal): Promise<T> {
  return patchFinalizers(client, obj, removeFinalizerPatch(obj, finalizer), signal);
}

/** Where the finalizer helper reads and patches its object: OwnObjects for Strongroom's own resources. */
export interface FinalizerStore<T extends KubeObject> {
  get(namespace: string | undefined, name: string): Promise<T | undefined>;
  patch(obj: T, operations: Operation[]): Promise<T>;
}

/** What cleanup answers: finished (the finalizer goes), or not yet (come back on the next event or after a while). */
export type Cleanup = { done: true } | { done: false; requeueAfter?: number };

export interface FinalizerHandlers<T extends KubeObject> {
  /** The object is live, with the finalizer added first when `wanted`. */
  apply(obj: T): Promise<ReconcileResult | void>;
  /** The object is being deleted and still has the finalizer. Must be idempotent: it runs again after a failure. */
  cleanup(obj: T): Promise<Cleanup>;
  /** Whether a live object needs the finalizer now (a finished Restore has nothing to clean up); default always. */
  wanted?(obj: T): boolean;
}

/**
 * kube-rs's `finalizer` for the reconcilers, in its four cases of (finalizer present?, being deleted?):
 * - live: the finalizer is added when missing and wanted, then `apply` runs with the patched object (going on at
 *   once rather than waiting for the patch's watch event saves a round on every new object);
 * - deleted, present: `cleanup`; once it is done the finalizer is removed from the object as it is then (cleanup
 *   may have written to it), with the guarded patch, so a concurrent writer fails the removal instead of losing it;
 * - deleted, absent: nothing (cleanup already ran, or the object never got the finalizer).
 * A `cleanup` that throws keeps the finalizer; the error goes to the controller's backoff.
 */
export async function reconcileWithFinalizer<T extends KubeObject>(
  store: FinalizerStore<T>,
  finalizer: string,
  obj: T,
  handlers: FinalizerHandlers<T>,
): Promise<ReconcileResult | void> {
  if (obj.metadata.deletionTimestamp) {
    if (!hasFinalizer(obj, finalizer)) return;
    const cleanup = await handlers.cleanup(obj);
    if (!cleanup.done) return cleanup.requeueAfter === undefined ? undefined : { requeueAfter: cleanup.requeueAfter };
    const latest = (await store.get(obj.metadata.namespace, obj.metadata.name!)) ?? obj;
    const patch = removeFinalizerPatch(latest, finalizer);
    if (patch) await store.patch(latest, patch);
    return;
  }
  const patch = (handlers.wanted?.(obj) ?? true) ? addFinalizerPatch(obj, finalizer) : undefined;
  return handlers.apply(patch ? await store.patch(obj, patch) : obj);
}
