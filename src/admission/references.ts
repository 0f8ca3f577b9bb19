// References between objects, a validating plugin: a resource's `validateReferences` (a Restore's backup must exist,
// be Completed and belong to its database; a new database's name must be free) runs on create, and on an update
// that changes the spec — the fields that name other objects. An update that leaves the spec alone (labels, status,
// finalizers) is not refused for what has happened to the objects it names since: a Restore whose backup was pruned
// by retention must still let its finalizer go.
import type { ObjectLookup, ResourceDefinition } from '../api/definition.ts';
import { invalid } from '../api/errors.ts';
import { semanticallyEqual } from '../registry/equality.ts';
import type { AdmissionAttributes, ValidatingAdmissionPlugin } from './interface.ts';

export function objectReferences(definitions: readonly ResourceDefinition[], lookup: ObjectLookup): ValidatingAdmissionPlugin {
  const definitionOf = (a: AdmissionAttributes) =>
    definitions.find((d) => d.group === a.resource.group && d.plural === a.resource.resource && d.validateReferences);
  return {
    name: 'ObjectReferences',
    handles: (a) => (a.operation === 'CREATE' || a.operation === 'UPDATE') && a.subresource === '' && definitionOf(a) !== undefined,
    async validate(a) {
      const object = a.object!;
      if (a.operation === 'UPDATE' && (object.metadata.deletionTimestamp || semanticallyEqual(object.spec, a.oldObject?.spec))) return {};
      const def = definitionOf(a)!;
      const errors = await def.validateReferences!(object, lookup);
      if (errors.length > 0) throw invalid(def.kind, def.group, a.name, errors);
      return {};
    },
  };
}
