// Keeps recorded ownership meaningful when a schema turns a granular list or map atomic (structured-merge-diff
// typed/reconcile_schema.go): a manager that owned parts of it now owns the container itself.
import { FieldSet } from './fieldset.ts';
import type { Path, PathElement } from './path.ts';
import { isUntypedDeducedMap, type Atom, type MapType } from './schema.ts';

/** The set adjusted to `atom`, or undefined when it needs no change. */
export function reconcileWithSchema(set: FieldSet, atom: Atom): FieldSet | undefined {
  const atomic: Path[] = [];
  visit(atom, set, [], false, atomic);
  if (atomic.length === 0) return undefined;
  const now = FieldSet.of(...atomic);
  return set.recursiveDifference(now).union(now);
}

function visit(atom: Atom, node: FieldSet | undefined, path: Path, ownedWhole: boolean, atomic: Path[]): void {
  if (atom.map) {
    if (isUntypedDeducedMap(atom.map)) return;
    if (!ownedWhole && atom.map.atomic) {
      if (node && node.size() > 0) atomic.push(path);
      return;
    }
    if (node) visitItems(node, path, atomic, (pe) => typeAt(atom.map!, pe));
    return;
  }
  if (atom.scalar) return;
  if (atom.list) {
    if (!ownedWhole && atom.list.atomic) {
      atomic.push(path);
      return;
    }
    const element = atom.list.element;
    if (node) visitItems(node, path, atomic, () => element);
  }
}

function visitItems(node: FieldSet, path: Path, atomic: Path[], typeOf: (pe: PathElement) => Atom | undefined): void {
  const members = node.members();
  for (const { pe, set } of node.children()) {
    const type = typeOf(pe);
    if (type) visit(type, set, [...path, pe], false, atomic);
  }
  for (const pe of members) {
    const type = typeOf(pe);
    // A member without children was owned as a whole.
    if (type && !node.child(pe)) visit(type, undefined, [...path, pe], true, atomic);
  }
}

function typeAt(map: MapType, pe: PathElement): Atom | undefined {
  if (pe.kind === 'field') return map.fields.get(pe.name)?.type ?? map.element;
  return map.element;
}
