// admission.k8s.io/v1 AdmissionRequest for a set of attributes: the body of an AdmissionReview sent to webhooks and,
// without the objects, the `request` variable of CEL expressions (upstream's CreateAdmissionRequest).
import type { KubeObject } from '../../api/meta.ts';
import type { AdmissionAttributes } from '../interface.ts';

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  requestKind: { group: string; version: string; kind: string };
  requestResource: { group: string; version: string; resource: string };
  requestSubResource?: string;
  name: string;
  namespace?: string;
  operation: AdmissionAttributes['operation'];
  userInfo: { username: string; uid?: string; groups: string[]; extra?: Record<string, string[]> };
  object?: KubeObject;
  oldObject?: KubeObject;
  dryRun: boolean;
  options?: Record<string, unknown>;
}

/** Our objects are served in one version, so the request's kind and resource are also the matched ones. */
export function admissionRequest(a: AdmissionAttributes, uid: string, withObjects: boolean): AdmissionRequest {
  const request: AdmissionRequest = {
    uid,
    kind: a.kind,
    resource: a.resource,
    requestKind: a.kind,
    requestResource: a.resource,
    name: a.name,
    operation: a.operation,
    userInfo: {
      username: a.userInfo.name,
      ...(a.userInfo.uid ? { uid: a.userInfo.uid } : {}),
      groups: a.userInfo.groups,
      ...(Object.keys(a.userInfo.extra).length ? { extra: a.userInfo.extra } : {}),
    },
    dryRun: a.dryRun,
  };
  if (a.subresource) request.subResource = request.requestSubResource = a.subresource;
  if (a.namespace) request.namespace = a.namespace;
  if (withObjects && a.object) request.object = a.object;
  if (withObjects && a.oldObject) request.oldObject = a.oldObject;
  if (a.options) request.options = a.options;
  return request;
}
