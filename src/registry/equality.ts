// When an update changes nothing: the object it would store means the same as the stored one. Compared as JSON
// values (key order and absent-versus-undefined do not matter, as they do not once stored), with managedFields
// timestamps ignored as upstream's IgnoreManagedFieldsTimestampsTransformer ignores them: a write that only moves a
// timestamp is no write, keeps its resourceVersion and sends no watch event.
import type { KubeObject, ManagedFieldsEntry } from '../api/meta.ts';

export function isNoOpUpdate(next: KubeObject, current: KubeObject): boolean {
  return semanticallyEqual(withoutManagedFieldsTimes(next), withoutManagedFieldsTimes(current));
}

/** Equal as JSON documents: the same keys with equal values in any order, undefined members as absent. */
export function semanticallyEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => semanticallyEqual(item, b[i]));
  }
  const left = definedKeys(a as Record<string, unknown>);
  const right = definedKeys(b as Record<string, unknown>);
  if (left.length !== right.length) return false;
  return left.every((key) => semanticallyEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function definedKeys(obj: Record<string, unknown>): string[] {
  return Object.keys(obj).filter((key) => obj[key] !== undefined);
}

function withoutManagedFieldsTimes(obj: KubeObject): KubeObject {
  const entries = obj.metadata.managedFields;
  if (!entries) return obj;
  return { ...obj, metadata: { ...obj.metadata, managedFields: entries.map(({ time: _time, ...entry }) => entry as ManagedFieldsEntry) } };
}
