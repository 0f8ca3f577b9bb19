// Deletion protection, a validating plugin on the delete path: an object whose `spec.deletionProtection` is true
// cannot be deleted, so the DELETE itself fails (nothing is marked for deletion, no finalizer starts to run). The
// answer is 403 Forbidden, as a validating admission webhook that denies a request answers by default, with a
// message that says how to proceed.
import { admissionForbidden } from './forbidden.ts';
import type { ValidatingAdmissionPlugin } from './interface.ts';

export const deletionProtection: ValidatingAdmissionPlugin = {
  name: 'DeletionProtection',
  handles: (a) => a.operation === 'DELETE' && a.subresource === '',
  async validate(a) {
    const old = a.oldObject;
    if (old?.spec?.deletionProtection !== true) return {};
    const which = a.namespace ? `${a.namespace}/${a.name}` : a.name;
    throw admissionForbidden(a, `${old.kind.toLowerCase()} ${which} has deletionProtection: true; set it to false first`);
  },
};
