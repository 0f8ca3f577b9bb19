// Which fields differ between two values of one type (structured-merge-diff typed/compare.go). Leaves — scalars,
// atomic lists and maps, and empty containers — are compared by value; granular containers item by item, and a
// container that appears or disappears is itself added or removed along with its items.
import { FieldSet } from './fieldset.ts';
import { field, pathToString, serializeElement, type Path, type PathElement } from './path.ts';
import type { Atom, ListType } from './schema.ts';
import { asList, asMap, deduceAtom, fieldType, listItemPathElement, requireAtom, sameKinds, TypedValueError } from './typed.ts';
import { equals, type Value, type ValueMap } from './value.ts';

export interface Comparison {
  readonly removed: FieldSet;
  readonly modified: FieldSet;
  readonly added: FieldSet;
}

/** The changes that turn `lhs` into `rhs`. */
export function compareValues(lhs: Value, rhs: Value, atom: Atom): Comparison {
  const cmp = { removed: new FieldSet(), modified: new FieldSet(), added: new FieldSet() };
  node(lhs, rhs, atom, [], cmp);
  return cmp;
}

/** The comparison without the fields of `ignored` and everything below them (Comparison.FilterFields). */
export function withoutFields(c: Comparison, ignored: FieldSet): Comparison {
  return {
    removed: c.removed.recursiveDifference(ignored),
    modified: c.modified.recursiveDifference(ignored),
    added: c.added.recursiveDifference(ignored),
  };
}

function node(lhs: Value | undefined, rhs: Value | undefined, atom: Atom, path: Path, cmp: Comparison): void {
  const left = deduceAtom(atom, lhs);
  const right = deduceAtom(atom, rhs);
  let leaf: boolean;
  if (rhs === undefined) {
    leaf = handle(left, lhs, rhs, path, cmp);
  } else if (lhs === undefined || sameKinds(left, right)) {
    leaf = handle(right, lhs, rhs, path, cmp);
  } else {
    // The value changed kind (open schemas): both readings record what they see.
    handle(left, lhs, rhs, path, cmp);
    leaf = handle(right, lhs, rhs, path, cmp);
  }
  if (!leaf) {
    if (lhs === undefined) cmp.added.insert(path);
    else if (rhs === undefined) cmp.removed.insert(path);
  }
}

/** Records the node's changes; true when the node was compared as one leaf. */
function handle(a: Atom, lhs: Value | undefined, rhs: Value | undefined, path: Path, cmp: Comparison): boolean {
  if (a.map) {
    const l = asMap(lhs) ?? undefined;
    const r = asMap(rhs) ?? undefined;
    if (a.map.atomic || (isEmpty(l) && isEmpty(r))) return leafChange(lhs, rhs, path, cmp);
    if (!l && !r) return false;
    for (const k of new Set([...Object.keys(l ?? {}), ...Object.keys(r ?? {})])) {
      const childPath = [...path, field(k)];
      node(l?.[k], r?.[k], requireAtom(fieldType(a.map, k), pathToString(childPath)), childPath, cmp);
    }
    return false;
  }
  if (a.scalar) return leafChange(lhs, rhs, path, cmp);
  if (a.list) {
    const l = asList(lhs) ?? undefined;
    const r = asList(rhs) ?? undefined;
    if (a.list.atomic || (!l?.length && !r?.length)) return leafChange(lhs, rhs, path, cmp);
    compareItems(a.list, l ?? [], r ?? [], path, cmp);
    return false;
  }
  throw new TypedValueError('schema error: invalid atom: inlined');
}

function isEmpty(m: ValueMap | undefined): boolean {
  return !m || Object.keys(m).length === 0;
}

function leafChange(lhs: Value | undefined, rhs: Value | undefined, path: Path, cmp: Comparison): true {
  if (lhs === undefined) cmp.added.insert(path);
  else if (rhs === undefined) cmp.removed.insert(path);
  else if (!equals(lhs, rhs)) cmp.modified.insert(path);
  return true;
}

interface Occurrences {
  pe: PathElement;
  left: Value[];
  right: Value[];
}

function compareItems(list: ListType, lhs: Value[], rhs: Value[], path: Path, cmp: Comparison): void {
  const element = list.element;
  const byItem = new Map<string, Occurrences>();
  const collect = (items: Value[], side: 'left' | 'right') => {
    for (const item of items) {
      let pe: PathElement;
      try {
        pe = listItemPathElement(list, item);
      } catch (err) {
        throw new TypedValueError((err as Error).message);
      }
      const id = serializeElement(pe);
      const entry = byItem.get(id) ?? { pe, left: [], right: [] };
      entry[side].push(item);
      byItem.set(id, entry);
    }
  };
  collect(lhs, 'left');
  collect(rhs, 'right');
  for (const { pe, left, right } of byItem.values()) {
    const itemPath = [...path, pe];
    if (left.length <= 1 && right.length <= 1) {
      node(left[0], right[0], element, itemPath, cmp);
    } else if (left.length >= 2 && right.length >= 2) {
      // Duplicates on both sides are compared as one atomic value.
      if (left.length !== right.length || left.some((v, i) => !equals(v, right[i]!))) cmp.modified.insert(itemPath);
    } else if (left.length >= 2) {
      if (right.length > 0) node(undefined, right[0], element, itemPath, cmp);
      cmp.removed.insert(itemPath);
    } else {
      if (left.length > 0) node(left[0], undefined, element, itemPath, cmp);
      cmp.added.insert(itemPath);
    }
  }
}
