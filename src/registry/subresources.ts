// The scale subresource (autoscaling/v1 Scale over a declared replicas path) and action subresources (a POST that
// creates an object of another resource, such as databases/backup → Backup). Both write through the same pipeline as
// the resource itself.
import type { ActionSubresource, ObjectLookup, ScaleSubresource } from '../api/definition.ts';
import { badRequest, invalid } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import { applyJsonPatch } from './jsonpatch.ts';
import { mergePatch } from './mergepatch.ts';
import { fromScale, toScale, type Scale } from './scale.ts';
import { decodeObject } from './strategy.ts';
import type { PatchKind, ResourceStore, WriteOptions, WriteResult } from './store.ts';

export async function getScale(store: ResourceStore, namespace: string | undefined, name: string): Promise<Scale> {
  return toScale(await store.get(namespace, name), scaleOf(store));
}

function scaleOf(store: ResourceStore): ScaleSubresource {
  const scale = store.def.subresources.scale;
  if (!scale) throw badRequest(`${store.def.plural} has no scale subresource`);
  return scale;
}

/** PUT /scale: the Scale's resourceVersion, when given, guards the write to the parent. */
export function updateScale(
  store: ResourceStore,
  namespace: string | undefined,
  name: string,
  body: unknown,
  options: WriteOptions,
): Promise<{ scale: Scale; result: WriteResult }> {
  const scale = decodeScale(body, name);
  return writeScale(store, namespace, name, () => scale, options);
}

/** PATCH /scale: the patch applies to the Scale view of the newest parent. */
export function patchScale(
  store: ResourceStore,
  namespace: string | undefined,
  name: string,
  kind: PatchKind,
  patch: unknown,
  options: WriteOptions,
): Promise<{ scale: Scale; result: WriteResult }> {
  if (kind === 'apply') throw badRequest('server-side apply is not supported on the scale subresource');
  return writeScale(store, namespace, name, (current) => decodeScale(kind === 'merge' ? mergePatch(current, patch) : applyJsonPatch(current, patch), name), options);
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

/** The parent with the written Scale's replicas, as an update of the `scale` subresource (so managedFields say so). */
async function writeScale(
  store: ResourceStore,
  namespace: string | undefined,
  name: string,
  written: (current: Scale) => Scale,
  options: WriteOptions,
): Promise<{ scale: Scale; result: WriteResult }> {
  const path = scaleOf(store);
  const result = await store.guaranteedUpdate(namespace, name, 'scale', options, (current) => ({
    obj: fromScale(current!, path, written(toScale(current!, path))),
    warnings: [],
    applied: false,
  }));
  return { scale: toScale(result.object, path), result };
}

/**
 * POST databases/<name>/backup and the like: admitted as a connect request on the parent, then the object it builds
 * is created through its own resource. 201 with the created object. A dry run answers it described by the action
 * (databases/restore: with its plan); a real create answers it as stored, its status left to the controller.
 */
export async function runAction(
  parentStore: ResourceStore,
  targetStore: ResourceStore,
  subresource: string,
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
  const connected = await parentStore.pipeline.connect(parent, subresource, action.kind, posted, options);
  const result = await targetStore.create(namespace, action.build(parent, connected.body), options);
  const object = options.dryRun && action.describe ? await action.describe(result.object, lookup) : result.object;
  return { ...result, object, warnings: [...warnings, ...connected.warnings, ...result.warnings] };
}
