// The scale subresource (autoscaling/v1 Scale over a declared replicas path) and action subresources (a POST that
// creates an object of another resource, such as databases/backup → Backup).
import type { ActionSubresource, ObjectLookup, ScaleSubresource } from '../api/definition.ts';
import { badRequest, invalid } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import { applyJsonPatch } from './jsonpatch.ts';
import { mergePatch } from './mergepatch.ts';
import { decodeObject } from './strategy.ts';
import type { PatchKind, ResourceStore, WriteOptions, WriteResult } from './store.ts';

export interface Scale extends KubeObject {
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

function readPath(obj: unknown, path: string): unknown {
  let node = obj;
  for (const part of path.split('.').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The merge patch that sets `path` to `value`, e.g. `.spec.replicas` → `{spec: {replicas: 3}}`. */
function patchAt(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.').filter(Boolean);
  return parts.reduceRight<Record<string, unknown>>((inner, part, i) => (i === parts.length - 1 ? { [part]: value } : { [part]: inner }), {});
}

export function toScale(parent: KubeObject, scale: ScaleSubresource): Scale {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = parent.metadata;
  const selector = readPath(parent, scale.labelSelectorPath);
  const status: Scale['status'] = { replicas: Number(readPath(parent, scale.statusReplicasPath) ?? 0) };
  if (typeof selector === 'string' && selector) status.selector = selector;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: Number(readPath(parent, scale.specReplicasPath) ?? 0) },
    status,
  };
}

export async function getScale(store: ResourceStore, namespace: string | undefined, name: string): Promise<Scale> {
  return toScale(await store.get(namespace, name), scaleOf(store));
}

function scaleOf(store: ResourceStore): ScaleSubresource {
  const scale = store.def.subresources.scale;
  if (!scale) throw badRequest(`${store.def.plural} has no scale subresource`);
  return scale;
}

/** PUT /scale: the Scale's resourceVersion, when given, guards the write to the parent. */
export async function updateScale(
  store: ResourceStore,
  namespace: string | undefined,
  name: string,
  body: unknown,
  options: WriteOptions,
): Promise<{ scale: Scale; result: WriteResult }> {
  const scale = decodeScale(body, name);
  return writeScale(store, namespace, name, scale, options);
}

/** PATCH /scale: the patch applies to the Scale view of the newest parent. */
export async function patchScale(
  store: ResourceStore,
  namespace: string | undefined,
  name: string,
  kind: PatchKind,
  patch: unknown,
  options: WriteOptions,
): Promise<{ scale: Scale; result: WriteResult }> {
  if (kind === 'apply') throw badRequest('server-side apply is not supported on the scale subresource');
  const current = await getScale(store, namespace, name);
  const patched = kind === 'merge' ? mergePatch(current, patch) : applyJsonPatch(current, patch);
  return writeScale(store, namespace, name, decodeScale(patched, name), options);
}

function decodeScale(body: unknown, name: string): Scale {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body of the request must be a Scale object');
  const scale = body as Scale;
  if (scale.kind !== undefined && scale.kind !== 'Scale') throw badRequest(`the kind in the data (${String(scale.kind)}) does not match the expected kind (Scale)`);
  const replicas = scale.spec?.replicas;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw invalid('Scale', 'autoscaling', name, [
      { type: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0` },
    ]);
  }
  return scale;
}

async function writeScale(
  store: ResourceStore,
  namespace: string | undefined,
  name: string,
  scale: Scale,
  options: WriteOptions,
): Promise<{ scale: Scale; result: WriteResult }> {
  const path = scaleOf(store);
  const patch = patchAt(path.specReplicasPath, scale.spec.replicas);
  if (scale.metadata?.resourceVersion) patch['metadata'] = { resourceVersion: scale.metadata.resourceVersion };
  const result = await store.patch(namespace, name, 'merge', patch, '', { ...options, force: false });
  return { scale: toScale(result.object, path), result };
}

/**
 * POST databases/<name>/backup and the like: 201 with the created object. A dry run answers it described by the
 * action (databases/restore: with its plan); a real create answers it as stored, its status left to the controller.
 */
export async function runAction(
  parentStore: ResourceStore,
  targetStore: ResourceStore,
  action: ActionSubresource,
  namespace: string | undefined,
  name: string,
  body: unknown,
  options: WriteOptions,
  lookup: ObjectLookup,
): Promise<WriteResult> {
  const parent = await parentStore.get(namespace, name);
  if (body === undefined && action.bodyRequired) {
    throw badRequest(`a ${action.kind} body is required for ${parentStore.def.plural}/${name}`);
  }
  let posted: KubeObject | undefined;
  let warnings: string[] = [];
  if (body !== undefined) ({ obj: posted, warnings } = decodeObject(targetStore.def, body, options.fieldValidation));
  const result = await targetStore.create(namespace, action.build(parent, posted), options);
  const object = options.dryRun && action.describe ? await action.describe(result.object, lookup) : result.object;
  return { ...result, object, warnings: [...warnings, ...result.warnings] };
}
