// The plugins every Strongroom server runs, whatever its mode. Cluster mode puts NamespaceLifecycle before them and
// the cluster's policies and webhooks after them (see server/delegation).
import type { ObjectLookup, ResourceDefinition } from '../api/definition.ts';
import { deletionProtection } from './deletionprotection.ts';
import type { AdmissionChain } from './interface.ts';
import { objectReferences } from './references.ts';

export function builtInAdmission(definitions: readonly ResourceDefinition[], lookup: ObjectLookup): AdmissionChain {
  return { mutating: [], validating: [objectReferences(definitions, lookup), deletionProtection] };
}
