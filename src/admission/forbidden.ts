// admission.NewForbidden: the 403 a plugin answers, `databases.strongroom.dev "orders" is forbidden: <why>`.
import { StatusError, forbidden } from '../api/errors.ts';
import type { AdmissionAttributes } from './interface.ts';

/** Named as upstream names it: the object's name, else its generateName (not generated yet), else the request's. */
export function admissionForbidden(a: AdmissionAttributes, why: string): StatusError {
  const name = a.object?.metadata.name || a.object?.metadata.generateName || a.name;
  const { group, resource } = a.resource;
  return forbidden({ group, resource }, name, `${group ? `${resource}.${group}` : resource} ${JSON.stringify(name)} is forbidden: ${why}`);
}
