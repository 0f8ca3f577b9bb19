// The admission contract every plugin implements, named as k8s.io/apiserver's admission.Attributes and
// admission.MutationInterface / ValidationInterface: the write pipeline builds one AdmissionAttributes per request
// and runs the chain's mutating plugins, then its validating ones.
import type { KubeObject } from '../api/meta.ts';
import type { UserInfo } from '../server/authentication.ts';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionAttributes {
  operation: AdmissionOperation;
  resource: { group: string; version: string; resource: string };
  subresource: string;                 // '' for the main resource; 'status', 'scale', 'backup', 'restore' …
  kind: { group: string; version: string; kind: string };   // of `object`
  namespace: string;                   // '' when cluster-scoped
  name: string;
  object?: KubeObject;                 // CREATE/UPDATE: the new object after defaulting; CONNECT: the action body
  oldObject?: KubeObject;              // UPDATE and DELETE
  options?: Record<string, unknown>;   // CreateOptions / UpdateOptions / DeleteOptions as kube-apiserver would send them
  dryRun: boolean;
  userInfo: UserInfo;
}

export interface AdmissionResponse { object?: KubeObject; warnings?: string[]; auditAnnotations?: Record<string, string> }

/** A denial throws StatusError (src/api/errors.ts) with the code, reason, message and causes the client must see. */
export interface MutatingAdmissionPlugin { readonly name: string; handles(a: AdmissionAttributes): boolean; admit(a: AdmissionAttributes): Promise<AdmissionResponse>; }
export interface ValidatingAdmissionPlugin { readonly name: string; handles(a: AdmissionAttributes): boolean; validate(a: AdmissionAttributes): Promise<Omit<AdmissionResponse, 'object'>>; }
export interface AdmissionChain { mutating: MutatingAdmissionPlugin[]; validating: ValidatingAdmissionPlugin[] }
