// admission.NewForbidden of k8s.io/apiserver: `databases.strongroom.dev "orders" is forbidden: <why>`, naming the
// object by the request's name, else the object's name or generateName (a create may not have one yet).
import { StatusError, forbidden } from '../api/errors.ts';
import type { AdmissionAttributes } from './interface.ts';

export function admissionForbidden(a: AdmissionAttributes, why: string): StatusError {
  const name = a.name || a.object?.metadata?.name || a.object?.metadata?.generateName || 'Unknown';
  const { group, resource } = a.resource;
  const qualified = group ? `${resource}.${group}` : resource;
  return forbidden({ group, resource }, name, `${qualified} ${JSON.stringify(name)} is forbidden: ${why}`);
}
