// Removes the listed fields and items from a value (structured-merge-diff typed/remove.go, RemoveItems). A container
// left with nothing becomes null, exactly as upstream; the caller drops such nulls like the Go server's schema coercion.
import type { FieldSet } from './fieldset.ts';
import { field, pathToString } from './path.ts';
import type { Atom } from './schema.ts';
import { deduceAtom, fieldType, listItemPathElement, requireAtom } from './typed.ts';
import { isMap, type Value, type ValueMap } from './value.ts';

export function removeItems(v: Value, toRemove: FieldSet, atom: Atom): Value {
  return walk(v, toRemove, atom) ?? null;
}

function walk(v: Value, toRemove: FieldSet, atom: Atom): Value | undefined {
  const a = deduceAtom(atom, v);
  if (a.map) {
    if (!isMap(v) || Object.keys(v).length === 0 || a.map.atomic) return undefined;
    const out: ValueMap = {};
    for (const [k, child] of Object.entries(v)) {
      const pe = field(k);
      if (toRemove.hasMember(pe)) continue;
      const below = toRemove.withPrefix(pe);
      out[k] = below.empty() ? child : (walk(child, below, requireAtom(fieldType(a.map, k), pathToString([pe]))) ?? null);
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  if (a.scalar) return v;
  if (a.list) {
    if (!Array.isArray(v) || v.length === 0 || a.list.atomic) return undefined;
    const out: Value[] = [];
    for (const item of v) {
      const pe = listItemPathElement(a.list, item);
      if (toRemove.hasMember(pe)) continue;
      const below = toRemove.withPrefix(pe);
      out.push(below.empty() ? item : (walk(item, below, a.list.element) ?? null));
    }
    return out.length > 0 ? out : undefined;
  }
  return undefined;
}
