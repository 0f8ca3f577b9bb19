// Every resource Strongroom serves. Routes, discovery, OpenAPI, Table output and RBAC are all derived from this list.
import { backupDefinition } from './backup.ts';
import { databaseDefinition } from './database.ts';
import type { ResourceDefinition } from './definition.ts';
import { restoreDefinition } from './restore.ts';

export const resources: ResourceDefinition[] = [databaseDefinition, backupDefinition, restoreDefinition];

const plurals = new Map(resources.map((r) => [r.plural, r]));
const kinds = new Map(resources.map((r) => [r.kind, r]));

/** The resource served under `plural` (`databases`), if any. */
export function byPlural(plural: string): ResourceDefinition | undefined {
  return plurals.get(plural);
}

/** The resource whose objects have `kind` (`Database`), if any. */
export function byKind(kind: string): ResourceDefinition | undefined {
  return kinds.get(kind);
}
