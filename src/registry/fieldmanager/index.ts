// Server-side apply and managedFields (the Go server's field manager). The registry calls `apply` for
// application/apply-patch+yaml and `update` for every other write; the HTTP layer names managers.
export {
  apply,
  update,
  fieldManagerScope,
  fieldSetOf,
  compareObjects,
  type ApplyOptions,
  type UpdateOptions,
  type FieldManagerScope,
} from './fieldmanager.ts';
export { managerFromUserAgent, validateFieldManager, validateApplyFieldManager, FIELD_MANAGER_MAX_LENGTH } from './manager.ts';
export { validateManagedFields } from './managedfields.ts';
export { LAST_APPLIED_ANNOTATION } from './lastapplied.ts';
export { FieldSet } from './fieldset.ts';
export { toFieldsV1, fromFieldsV1, FieldsV1Error } from './fieldsv1.ts';
export { field, fieldPath, index, key, setValue, pathToString, type Path, type PathElement } from './path.ts';
export type { Comparison } from './compare.ts';
