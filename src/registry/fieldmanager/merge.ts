// Merges an applied configuration into the live object (structured-merge-diff typed/merge.go, ruleKeepRHS): leaves
// take the configuration's value, granular maps merge key by key, associative lists item by item; nothing is removed.
import { serializeElement } from './path.ts';
import type { Atom, ListType } from './schema.ts';
import { asList, asMap, deduceAtom, fieldType, listItemPathElement, requireAtom, TypedValueError } from './typed.ts';
import type { Value, ValueMap } from './value.ts';

export function mergeValues(lhs: Value, rhs: Value, atom: Atom): Value {
  return node(lhs, rhs, atom, '') ?? null;
}

function node(lhs: Value | undefined, rhs: Value | undefined, atom: Atom, where: string): Value | undefined {
  // The configuration's reading of the type decides the result; the live reading would only add errors, and both
  // values were validated already.
  const a = rhs === undefined ? deduceAtom(atom, lhs) : deduceAtom(atom, rhs);
  const keepRHS = rhs !== undefined ? rhs : lhs;
  if (a.map) {
    const l = asMap(lhs) ?? undefined;
    const r = asMap(rhs) ?? undefined;
    // Empty and null containers stay leaves, so `{}` and null are not confused.
    if (a.map.atomic || (isEmpty(l) && isEmpty(r))) return keepRHS;
    if (!l && !r) return undefined;
    const out: ValueMap = {};
    for (const k of new Set([...Object.keys(l ?? {}), ...Object.keys(r ?? {})])) {
      const childWhere = `${where}.${k}`;
      const merged = node(l?.[k], r?.[k], requireAtom(fieldType(a.map, k), childWhere), childWhere);
      if (merged !== undefined) out[k] = merged;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  if (a.scalar) return keepRHS;
  if (a.list) {
    const l = asList(lhs) ?? undefined;
    const r = asList(rhs) ?? undefined;
    if (a.list.atomic || (!l?.length && !r?.length)) return keepRHS;
    if (!l && !r) return undefined;
    return mergeItems(a.list, l ?? [], r ?? [], where);
  }
  throw new TypedValueError(`${where}: schema error: invalid atom: inlined`);
}

function isEmpty(m: ValueMap | undefined): boolean {
  return !m || Object.keys(m).length === 0;
}

/**
 * Items the configuration names keep the configuration's order; live-only items stay where they were, relative to
 * the shared ones (visitListItems in typed/merge.go, step for step).
 */
function mergeItems(list: ListType, lhs: Value[], rhs: Value[], where: string): Value[] | undefined {
  const idOf = (item: Value) => {
    try {
      return serializeElement(listItemPathElement(list, item));
    } catch (err) {
      throw new TypedValueError(`${where}: ${(err as Error).message}`);
    }
  };
  const rhsIds = rhs.map(idOf);
  const observedRHS = new Map<string, Value>();
  rhsIds.forEach((id, i) => observedRHS.has(id) || observedRHS.set(id, rhs[i]!));
  const lhsIds = lhs.map(idOf);
  const observedLHS = new Map<string, Value>();
  // A duplicated live item is not merged with anything: it is treated as null.
  lhsIds.forEach((id, i) => observedLHS.set(id, observedLHS.has(id) ? null : lhs[i]!));

  const sharedOrder = rhsIds.filter((id) => observedLHS.has(id));
  let nextShared = sharedOrder.shift();
  const mergedRHS = new Set<string>();
  const out: Value[] = [];
  const push = (l: Value | undefined, r: Value | undefined, id: string) => {
    const merged = node(l, r, list.element, `${where}[${id}]`);
    if (merged !== undefined) out.push(merged);
  };

  let li = 0;
  let ri = 0;
  while (li < lhsIds.length || ri < rhsIds.length) {
    if (li < lhsIds.length && ri < rhsIds.length) {
      const id = lhsIds[li]!;
      if (id === rhsIds[ri]) {
        mergedRHS.add(id);
        push(observedLHS.get(id), observedRHS.get(id), id);
        li++;
        ri++;
        nextShared = sharedOrder.shift();
        continue;
      }
      if (observedRHS.has(id) && nextShared !== undefined && nextShared !== id) {
        // A shared item, but not the next one in the configuration's order: it is emitted when its turn comes.
        li++;
        continue;
      }
    }
    if (li < lhsIds.length) {
      const id = lhsIds[li]!;
      if (!observedRHS.has(id)) {
        push(lhs[li], undefined, id);
        li++;
        continue;
      }
      if (mergedRHS.has(id)) li++;
    }
    if (ri < rhsIds.length) {
      const id = rhsIds[ri]!;
      mergedRHS.add(id);
      push(observedLHS.get(id), observedRHS.get(id), id);
      ri++;
      if (nextShared === id) nextShared = sharedOrder.shift();
    }
  }
  return out.length > 0 ? out : undefined;
}
