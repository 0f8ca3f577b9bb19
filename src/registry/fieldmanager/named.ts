// Struct fields named on the way to an owned field are owned too, for pruning's purposes (fieldpath
// Set.EnsureNamedFieldsAreMembers): removing `spec.backup.schedule` may remove `spec.backup`, but never a map such as
// `metadata.labels` that merely leads to the owned keys.
import { FieldSet } from './fieldset.ts';
import type { Atom } from './schema.ts';

export function ensureNamedFieldsAreMembers(set: FieldSet, atom: Atom | undefined): FieldSet {
  const out = new FieldSet();
  for (const pe of set.members()) out.addMember(pe);
  for (const { pe, set: below } of set.children()) {
    let type: Atom | undefined;
    if (pe.kind === 'field' && atom?.map) {
      const declared = atom.map.fields.get(pe.name);
      if (declared) out.addMember(pe);
      type = declared?.type ?? atom.map.element;
    } else if (pe.kind === 'key' && atom?.list) {
      type = atom.list.element;
    }
    out.setChild(pe, ensureNamedFieldsAreMembers(below, type));
  }
  return out;
}
