// The fields a value sets (structured-merge-diff typed/tofieldset.go): what an applier owns from its configuration.
// Scalars, atomic lists and maps, list items, map keys, nulls and empty maps are members; a declared struct field
// holding a non-empty map is only a path to its children.
import { FieldSet } from './fieldset.ts';
import { field, pathToString, serializeElement, type Path } from './path.ts';
import type { Atom } from './schema.ts';
import { asList, asMap, deduceAtom, fieldType, listItemPathElement, requireAtom, TypedValueError } from './typed.ts';
import { isMap, type Value } from './value.ts';

export function toFieldSet(v: Value, atom: Atom): FieldSet {
  const set = new FieldSet();
  walk(v, atom, [], set);
  return set;
}

function walk(v: Value, atom: Atom, path: Path, set: FieldSet): void {
  const a = deduceAtom(atom, v);
  if (a.map) {
    const m = asMap(v);
    if (a.map.atomic) return set.insert(path);
    if (!m) return;
    for (const [k, child] of Object.entries(m)) {
      const childPath = [...path, field(k)];
      walk(child, requireAtom(fieldType(a.map, k), pathToString(childPath)), childPath, set);
      const emptyMap = isMap(child) && Object.keys(child).length === 0;
      if (child === null || emptyMap || !a.map.fields.has(k)) set.insert(childPath);
    }
    return;
  }
  if (a.scalar) return set.insert(path);
  if (a.list) {
    const list = asList(v);
    if (a.list.atomic) return set.insert(path);
    if (!list) return;
    // A repeated item is owned as a whole, without its inner fields.
    const named = list.map((child) => ({ child, pe: listItemPathElement(a.list!, child) }));
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const { pe } of named) {
      const id = serializeElement(pe);
      if (seen.has(id) && !duplicates.has(id)) {
        set.insert([...path, pe]);
        duplicates.add(id);
      }
      seen.add(id);
    }
    for (const { child, pe } of named) {
      if (duplicates.has(serializeElement(pe))) continue;
      const itemPath = [...path, pe];
      walk(child, a.list.element, itemPath, set);
      set.insert(itemPath);
    }
    return;
  }
  throw new TypedValueError('schema error: invalid atom: inlined');
}
