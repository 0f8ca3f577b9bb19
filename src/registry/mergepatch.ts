// JSON merge patch (RFC 7386), the `application/merge-patch+json` PATCH that kubectl label/annotate/scale/edit and the
// garbage collector send. Results never share structure with their inputs, so a caller may mutate a patched object
// without touching the stored one it came from.
import { isDeepStrictEqual } from 'node:util';
import { badRequest } from '../api/errors.ts';

type JSONObject = Record<string, unknown>;

function isObject(value: unknown): value is JSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The same keys fast-json-patch refuses: assigning them could reach Object.prototype instead of the document.
function checkKey(key: string, parentKey: string | undefined): void {
  if (key === '__proto__' || (key === 'prototype' && parentKey === 'constructor'))
    throw badRequest(`the merge patch may not contain the key "${key}"`);
}

function mergeInto(target: unknown, patch: unknown, parentKey: string | undefined): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JSONObject = isObject(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    checkKey(key, parentKey);
    if (value === null) delete result[key];
    else result[key] = mergeInto(Object.hasOwn(result, key) ? result[key] : undefined, value, key);
  }
  return result;
}

/**
 * RFC 7386: members of an object patch merge recursively into the target, `null` removes a member, and any other
 * value (array, scalar, or a non-object patch as a whole) replaces what was there.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  return mergeInto(structuredClone(target), patch, undefined);
}

/**
 * The merge patch that turns `from` into `to`: removed members become `null`, changed objects are diffed
 * recursively, everything else is sent whole. (A `null` inside `to` cannot be expressed, as in RFC 7386.)
 */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return structuredClone(to);
  const patch: JSONObject = {};
  for (const key of Object.keys(from)) if (!Object.hasOwn(to, key)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    if (!Object.hasOwn(from, key)) patch[key] = structuredClone(value);
    else if (!isDeepStrictEqual(from[key], value)) patch[key] = createMergePatch(from[key], value);
  }
  return patch;
}
