// The 409 an apply gets when it would change fields other managers own (apimachinery managedfields
// internal/conflict.go NewConflictError, api/errors NewApplyConflict).
import { StatusError } from '../../api/errors.ts';
import { compareStrings, goQuote } from './gofmt.ts';
import { parseIdentifier } from './managedfields.ts';
import { pathToString } from './path.ts';
import type { Conflict } from './updater.ts';

/** `"kubectl"`, `"kubectl-edit" using strongroom.dev/v1alpha1`, `"ctrl" with subresource "status" using …`. */
export function describeManager(identifier: string): string {
  const info = parseIdentifier(identifier);
  if (!info) return goQuote(identifier);
  let out = goQuote(info.manager ?? '');
  if (info.subresource) out += ` with subresource ${goQuote(info.subresource)}`;
  // Identifiers carry no time, so the "at <time>" upstream can print never appears.
  if (info.operation === 'Update') out += ` using ${info.apiVersion ?? ''}`;
  return out;
}

export function applyConflictError(conflicts: readonly Conflict[]): StatusError {
  const causes = conflicts.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${describeManager(c.manager)}`,
    field: pathToString(c.path),
  }));
  return new StatusError(409, 'Conflict', conflictMessage(conflicts), { causes });
}

function conflictMessage(conflicts: readonly Conflict[]): string {
  if (conflicts.length === 1) {
    const [c] = conflicts;
    return `Apply failed with 1 conflict: conflict with ${describeManager(c!.manager)}: ${pathToString(c!.path)}`;
  }
  const byManager = new Map<string, string[]>();
  for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), pathToString(c.path)]);
  const lines: string[] = [];
  for (const manager of [...byManager.keys()].sort(compareStrings)) {
    lines.push(`conflicts with ${describeManager(manager)}:`, ...byManager.get(manager)!.map((p) => `- ${p}`));
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}
