// Deletion protection as an admission check on the delete path: an object whose `spec.deletionProtection` is true
// cannot be deleted, so the DELETE itself fails (nothing is marked for deletion, no finalizer starts to run). The
// answer is 403 Forbidden, as a validating admission webhook that denies a request answers by default, with a
// message that says how to proceed.
import { forbidden } from '../api/errors.ts';
import type { AdmitDelete } from './store.ts';

export const admitDeletionProtection: AdmitDelete = ({ resource, object }) => {
  if (object.spec?.deletionProtection !== true) return;
  const { namespace, name = '' } = object.metadata;
  const which = namespace ? `${namespace}/${name}` : name;
  throw forbidden(
    resource,
    name,
    `${resource.resource}.${resource.group} "${name}" is forbidden: ${object.kind.toLowerCase()} ${which} has deletionProtection: true; set it to false first`,
  );
};
