// The admissionregistration.k8s.io/v1 objects Strongroom reads from its cluster, as JSON: ValidatingAdmissionPolicy
// and its bindings, and Mutating/ValidatingWebhookConfigurations. Only the fields admission acts on.
import type { KubeObject, ObjectMeta } from '../api/meta.ts';

export const ADMISSION_REGISTRATION = 'admissionregistration.k8s.io/v1';

export type OperationType = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | '*';
export type FailurePolicy = 'Ignore' | 'Fail';
export type MatchPolicy = 'Exact' | 'Equivalent';

export interface Rule {
  apiGroups?: string[];
  apiVersions?: string[];
  /** A resource, optionally with `/subresource`; `*` stands for any resource or any subresource. */
  resources?: string[];
  scope?: 'Cluster' | 'Namespaced' | '*';
}

export interface RuleWithOperations extends Rule {
  operations?: OperationType[];
}

export interface NamedRuleWithOperations extends RuleWithOperations {
  resourceNames?: string[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface MatchCondition {
  name: string;
  expression: string;
}

export interface MatchResources {
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  resourceRules?: NamedRuleWithOperations[];
  excludeResourceRules?: NamedRuleWithOperations[];
  matchPolicy?: MatchPolicy;
}

export interface Validation {
  expression: string;
  message?: string;
  messageExpression?: string;
  reason?: 'Unauthorized' | 'Forbidden' | 'Invalid' | 'RequestEntityTooLarge';
}

export interface AuditAnnotation {
  key: string;
  valueExpression: string;
}

export interface Variable {
  name: string;
  expression: string;
}

export interface ParamKind {
  apiVersion: string;
  kind: string;
}

export interface ValidatingAdmissionPolicy extends KubeObject {
  metadata: ObjectMeta;
  spec: {
    paramKind?: ParamKind;
    matchConstraints?: MatchResources;
    validations?: Validation[];
    failurePolicy?: FailurePolicy;
    auditAnnotations?: AuditAnnotation[];
    matchConditions?: MatchCondition[];
    variables?: Variable[];
  };
}

export type ValidationAction = 'Deny' | 'Warn' | 'Audit';

export interface ParamRef {
  name?: string;
  namespace?: string;
  selector?: LabelSelector;
  parameterNotFoundAction?: 'Allow' | 'Deny';
}

export interface ValidatingAdmissionPolicyBinding extends KubeObject {
  metadata: ObjectMeta;
  spec: {
    policyName: string;
    paramRef?: ParamRef;
    matchResources?: MatchResources;
    validationActions: ValidationAction[];
  };
}

export interface ServiceReference {
  namespace: string;
  name: string;
  path?: string;
  port?: number;
}

export interface WebhookClientConfig {
  url?: string;
  service?: ServiceReference;
  /** Base64 PEM; absent means the system's trusted roots. */
  caBundle?: string;
}

export type SideEffectClass = 'None' | 'NoneOnDryRun' | 'Some' | 'Unknown';

export interface Webhook {
  name: string;
  clientConfig: WebhookClientConfig;
  rules?: RuleWithOperations[];
  failurePolicy?: FailurePolicy;
  matchPolicy?: MatchPolicy;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  sideEffects?: SideEffectClass;
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
  matchConditions?: MatchCondition[];
}

export interface MutatingWebhook extends Webhook {
  reinvocationPolicy?: 'Never' | 'IfNeeded';
}

export interface ValidatingWebhookConfiguration extends KubeObject {
  webhooks?: Webhook[];
}

export interface MutatingWebhookConfiguration extends KubeObject {
  webhooks?: MutatingWebhook[];
}
