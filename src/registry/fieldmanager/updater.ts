// Ownership bookkeeping for one write (structured-merge-diff merge/update.go). An update gives the writer the fields it
// changed and takes them from everyone else; an apply merges a configuration, prunes what the applier stopped
// applying, and refuses to change fields other managers own unless forced.
//
// Every manager's fields are read in this server's single schema: entries recorded at another apiVersion are taken
// as they are (upstream converts them between versions of the resource).
import { compareValues, withoutFields, type Comparison } from './compare.ts';
import { FieldSet } from './fieldset.ts';
import { mergeValues } from './merge.ts';
import type { Path } from './path.ts';
import { reconcileWithSchema } from './reconcile.ts';
import { ensureNamedFieldsAreMembers } from './named.ts';
import { removeItems } from './remove.ts';
import type { Atom } from './schema.ts';
import { toFieldSet } from './tofieldset.ts';
import { equals, type Value } from './value.ts';

export interface VersionedSet {
  readonly set: FieldSet;
  readonly apiVersion: string;
  /** Recorded by an apply (operation Apply) rather than an update. */
  readonly applied: boolean;
}

/** Field sets by manager identifier (see managedfields.ts). */
export type ManagedFields = ReadonlyMap<string, VersionedSet>;

export interface Conflict {
  /** The identifier of the manager that owns the field. */
  readonly manager: string;
  readonly path: Path;
}

/** The apply would change fields other managers own (merge.Conflicts). */
export class Conflicts extends Error {
  readonly conflicts: readonly Conflict[];

  constructor(conflicts: readonly Conflict[]) {
    super(`${conflicts.length} apply conflict(s)`);
    this.name = 'Conflicts';
    this.conflicts = conflicts;
  }
}

export interface Scope {
  readonly type: Atom;
  /** Fields the write may not touch (the strategy's reset fields, e.g. `status` on the main resource). */
  readonly ignored: FieldSet;
}

/** The managers after a non-apply write by `manager` that turned `live` into `next`. */
export function updateManagers(scope: Scope, live: Value, next: Value, apiVersion: string, managers: ManagedFields, manager: string): Map<string, VersionedSet> {
  const { managers: out, comparison } = takeChangedFields(scope, live, next, reconcile(scope, managers), manager, true);
  const previous = out.get(manager)?.set ?? new FieldSet();
  const set = previous.difference(comparison.removed).union(comparison.modified).union(comparison.added).recursiveDifference(scope.ignored);
  out.set(manager, { set, apiVersion, applied: false });
  if (set.empty()) out.delete(manager);
  return out;
}

/**
 * Merges `config` into `live` for `manager`. The object is undefined when the apply changes nothing; the managers
 * change even then (an identical value becomes shared ownership).
 */
export function applyConfig(
  scope: Scope,
  live: Value,
  config: Value,
  apiVersion: string,
  managers: ManagedFields,
  manager: string,
  force: boolean,
): { object: Value | undefined; managers: Map<string, VersionedSet> } {
  const current = reconcile(scope, managers);
  const merged = mergeValues(live, config, scope.type);
  const lastSet = current.get(manager);
  const set = toFieldSet(config, scope.type).recursiveDifference(scope.ignored);
  current.set(manager, { set, apiVersion, applied: true });
  const pruned = prune(scope.type, merged, current, lastSet);
  const { managers: out } = takeChangedFields(scope, live, pruned, current, manager, force);
  return { object: equals(live, pruned) ? undefined : pruned, managers: out };
}

function reconcile(scope: Scope, managers: ManagedFields): Map<string, VersionedSet> {
  const out = new Map<string, VersionedSet>();
  for (const [manager, vs] of managers) {
    const reconciled = reconcileWithSchema(vs.set, scope.type);
    out.set(manager, reconciled ? { ...vs, set: reconciled } : vs);
  }
  return out;
}

/**
 * Fields the write added or modified are taken from every other manager (a conflict unless `force`); fields it
 * removed are owned by nobody any more. Managers left with nothing are dropped.
 */
function takeChangedFields(
  scope: Scope,
  live: Value,
  next: Value,
  managers: Map<string, VersionedSet>,
  writer: string,
  force: boolean,
): { managers: Map<string, VersionedSet>; comparison: Comparison } {
  const comparison = withoutFields(compareValues(live, next, scope.type), scope.ignored);
  const changed = comparison.modified.union(comparison.added);
  const conflicts: Conflict[] = [];
  const out = new Map<string, VersionedSet>();
  for (const [manager, vs] of managers) {
    if (manager === writer) {
      out.set(manager, vs);
      continue;
    }
    const taken = vs.set.intersection(changed);
    for (const path of taken.paths()) conflicts.push({ manager, path });
    const set = vs.set.difference(taken).difference(comparison.removed);
    if (!set.empty()) out.set(manager, { ...vs, set });
  }
  if (!force && conflicts.length > 0) throw new Conflicts(conflicts);
  if (out.get(writer)?.set.empty()) out.delete(writer);
  return { managers: out, comparison };
}

/**
 * Removes what `manager` applied last time but not this time, unless another manager (or this configuration) still
 * owns it, and unless an updater owns it or it was never the applier's (Updater.prune, addBackOwnedItems,
 * addBackDanglingItems).
 */
function prune(type: Atom, merged: Value, managers: Map<string, VersionedSet>, lastSet: VersionedSet | undefined): Value {
  if (!lastSet || lastSet.set.empty()) return merged;
  const named = (s: FieldSet) => ensureNamedFieldsAreMembers(s, type);
  let pruned = removeItems(merged, named(lastSet.set), type);

  let owned = new FieldSet();
  for (const vs of managers.values()) owned = owned.union(vs.set);
  const mergedSet = named(toFieldSet(merged, type));
  pruned = removeItems(merged, mergedSet.difference(named(toFieldSet(pruned, type)).union(named(owned))), type);

  const prunedSet = named(toFieldSet(pruned, type));
  return removeItems(merged, mergedSet.difference(prunedSet).intersection(named(lastSet.set)), type);
}
