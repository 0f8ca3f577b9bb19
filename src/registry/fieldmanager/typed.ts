// What every walker over a typed value shares (structured-merge-diff typed/helpers.go): choosing the atom a value
// takes, naming list items, and the errors that say where a value breaks its schema.
import { goQuote, goSyntax, goValue } from './gofmt.ts';
import { key, setValue, type PathElement } from './path.ts';
import type { Atom, ListType, MapType } from './schema.ts';
import { isMap, type Value, type ValueMap } from './value.ts';

export interface ValidationError {
  readonly path: string;
  readonly message: string;
}

/** ValidationErrors.Error(): one error as `path: message`, several as an indented list. */
export function formatValidationErrors(errors: readonly ValidationError[]): string {
  const one = (e: ValidationError) => (e.path ? `${e.path}: ${e.message}` : e.message);
  if (errors.length === 1) return one(errors[0]!);
  return ['errors:', ...errors.map((e) => `  ${one(e)}`)].join('\n');
}

export function prefixed(errors: ValidationError[], prefix: string): ValidationError[] {
  return errors.map((e) => ({ path: prefix + e.path, message: e.message }));
}

/** A value or schema the walkers cannot handle; it only happens for values that skipped validation. */
export class TypedValueError extends Error {}

/** Narrows an open atom to the kind of `v` (deduceAtom); absent values and mismatches keep the whole atom. */
export function deduceAtom(atom: Atom, v: Value | undefined): Atom {
  if (v === undefined || v === null) return atom;
  if (typeof v === 'object') {
    if (Array.isArray(v)) return atom.list ? { list: atom.list } : atom;
    return atom.map ? { map: atom.map } : atom;
  }
  return atom.scalar ? { scalar: atom.scalar } : atom;
}

/** Whether two narrowings of the same atom picked the same kinds. */
export function sameKinds(a: Atom, b: Atom): boolean {
  return !a.scalar === !b.scalar && !a.list === !b.list && !a.map === !b.map;
}

/** The type of a map key: its declared field type, else the element type (undefined when none is allowed). */
export function fieldType(map: MapType, name: string): Atom | undefined {
  return map.fields.get(name)?.type ?? map.element;
}

export function requireAtom(atom: Atom | undefined, what: string): Atom {
  if (!atom) throw new TypedValueError(`schema error: no type found for ${what}`);
  return atom;
}

/** A map value, `null` for an explicit null, `undefined` when `v` is absent or not a map. */
export function asMap(v: Value | undefined): ValueMap | null | undefined {
  if (v === null) return null;
  return isMap(v) ? v : undefined;
}

export function asList(v: Value | undefined): Value[] | null | undefined {
  if (v === null) return null;
  return Array.isArray(v) ? v : undefined;
}

/** How the Go server prints a value.Value in "expected map, got …" errors (`%v` of *valueUnstructured). */
export const valueForV = (v: Value) => `&{${goValue(v)}}`;
/** And in `%#v`. */
export const valueForSharpV = (v: Value) => `&value.valueUnstructured{Value:${goSyntax(v)}}`;

/** The element that names item `child` of an associative list, or an Error saying why it cannot be named. */
export function listItemPathElement(list: ListType, child: Value): PathElement {
  if (list.atomic) throw new Error('invalid indexing of non-associative list');
  if (list.keys.length > 0) return keyedItemPathElement(list, child);
  if (isMap(child)) throw new Error("associative list without keys has an element that's a map type");
  if (Array.isArray(child)) throw new Error('not supported: associative list with lists as elements');
  if (child === null) throw new Error("associative list without keys has an element that's an explicit null");
  return setValue(child);
}

function keyedItemPathElement(list: ListType, child: Value): PathElement {
  if (child === null) throw new Error('associative list with keys may not have a null element');
  if (!isMap(child)) throw new Error('associative list with keys may not have non-map elements');
  const fields: Record<string, Value> = {};
  for (const name of list.keys) {
    if (name in child) {
      fields[name] = child[name]!;
      continue;
    }
    const itemMap = list.element.map;
    if (!itemMap) throw new Error(`couldn't find default value for ${name}: associative list may not have non-map types`);
    const def = itemMap.fields.get(name)?.default;
    // Without a default the key is just absent: a key set with it present names a different item.
    if (def !== undefined && def !== null) fields[name] = def as Value;
  }
  if (Object.keys(fields).length === 0) {
    throw new Error(
      `associative list with keys has an element that omits all key fields [${list.keys.map(goQuote).join(' ')}] (and doesn't have default values for any key fields)`,
    );
  }
  return key(fields);
}
