// Field paths as structured-merge-diff names them (fieldpath/element.go, path.go, serialize-pe.go): a struct field or
// map key, a list-map item by its keys, a set item by its value, or an atomic list item by its index.
import { compareStrings, goJSON } from './gofmt.ts';
import { compare, isMap, valueToString, type Value } from './value.ts';

export type KeyField = readonly [name: string, value: Value];

export type PathElement =
  | { readonly kind: 'field'; readonly name: string }
  | { readonly kind: 'key'; readonly fields: readonly KeyField[] }
  | { readonly kind: 'value'; readonly value: Value }
  | { readonly kind: 'index'; readonly index: number };

export type Path = readonly PathElement[];

export const field = (name: string): PathElement => ({ kind: 'field', name });
export const index = (i: number): PathElement => ({ kind: 'index', index: i });
export const setValue = (value: Value): PathElement => ({ kind: 'value', value });
/** A list-map item; key fields are kept sorted by name, as everywhere upstream. */
export const key = (fields: Record<string, Value>): PathElement => ({
  kind: 'key',
  fields: Object.keys(fields)
    .sort(compareStrings)
    .map((name) => [name, fields[name]!] as const),
});

/** A path from `.`-separated field names, for static paths such as `metadata.name`. */
export const fieldPath = (dotted: string): Path => dotted.split('.').map(field);

const ORDER = { field: 0, key: 1, value: 2, index: 3 } as const;

export function compareElements(a: PathElement, b: PathElement): number {
  if (a.kind !== b.kind) return ORDER[a.kind] < ORDER[b.kind] ? -1 : 1;
  switch (a.kind) {
    case 'field':
      return compareStrings(a.name, (b as typeof a).name);
    case 'key':
      return compareKeys(a.fields, (b as typeof a).fields);
    case 'value':
      return compare(a.value, (b as typeof a).value);
    case 'index':
      return a.index === (b as typeof a).index ? 0 : a.index < (b as typeof a).index ? -1 : 1;
  }
}

function compareKeys(a: readonly KeyField[], b: readonly KeyField[]): number {
  for (let i = 0; ; i++) {
    if (i >= a.length && i >= b.length) return 0;
    if (i >= a.length) return -1;
    if (i >= b.length) return 1;
    const c = compareStrings(a[i]![0], b[i]![0]) || compare(a[i]![1], b[i]![1]);
    if (c !== 0) return c;
  }
}

/**
 * The FieldsV1 key of an element: `f:name`, `k:{"type":"Ready"}`, `v:"finalizer"`, `i:0`. Equal elements always
 * serialize alike, so the key doubles as the element's identity in sets.
 */
export function serializeElement(pe: PathElement): string {
  switch (pe.kind) {
    case 'field':
      return `f:${pe.name}`;
    case 'key':
      // Key names go through jsoniter's WriteObjectField (no HTML escaping); values through encoding/json rules.
      return `k:{${pe.fields.map(([name, value]) => `${JSON.stringify(name)}:${goJSON(value)}`).join(',')}}`;
    case 'value':
      return `v:${goJSON(pe.value)}`;
    case 'index':
      return `i:${pe.index}`;
  }
}

/** Thrown for a FieldsV1 key that names an element but cannot be read. */
export class PathElementError extends Error {}

/** The element a FieldsV1 key names; `undefined` for a type letter this version does not know (ignored upstream). */
export function deserializeElement(s: string): PathElement | undefined {
  if (s.length < 2) throw new PathElementError('key must be 2 characters long:');
  if (s[1] !== ':') throw new PathElementError(`missing colon: ${s}`);
  const body = s.slice(2);
  switch (s[0]) {
    case 'f':
      return field(body);
    case 'v':
      return setValue(parseJSON(body));
    case 'k': {
      const fields = parseJSON(body);
      if (!isMap(fields)) throw new PathElementError(`ReadObjectCB: expect { or n, but found ${body[0] ?? 'EOF'}`);
      return key(fields);
    }
    case 'i':
      if (!/^[+-]?\d+$/.test(body)) throw new PathElementError(`strconv.Atoi: parsing ${JSON.stringify(body)}: invalid syntax`);
      return index(Number(body));
    default:
      return undefined;
  }
}

function parseJSON(text: string): Value {
  try {
    return JSON.parse(text) as Value;
  } catch (err) {
    throw new PathElementError(`managedFields parsing: ${(err as Error).message}`);
  }
}

/** How an element prints in messages: `.spec`, `[type="Ready"]`, `[="a"]`, `[0]`. */
export function elementToString(pe: PathElement): string {
  switch (pe.kind) {
    case 'field':
      return `.${pe.name}`;
    case 'key':
      return `[${pe.fields.map(([name, value]) => `${name}=${valueToString(value)}`).join(',')}]`;
    case 'value':
      return `[=${valueToString(pe.value)}]`;
    case 'index':
      return `[${pe.index}]`;
  }
}

/** `.spec.conditions[type="Ready"].status`: the `field` of a conflict cause. */
export function pathToString(path: Path): string {
  return path.map(elementToString).join('');
}
