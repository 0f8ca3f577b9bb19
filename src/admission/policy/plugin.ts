// The ValidatingAdmissionPolicy admission plugin (k8s.io/apiserver's policy/validating dispatcher) for Strongroom's
// resources: every policy whose matchConstraints cover the request, through each of its bindings whose
// matchResources do too, with each param the binding selects. Deny stops the request with the first denial, Warn
// adds a warning, Audit records the failure in an audit annotation.
import { randomUUID } from 'node:crypto';
import { StatusError } from '../../api/errors.ts';
import type { KubeObject } from '../../api/meta.ts';
import type { Informer } from '../../controller/runtime/cache.ts';
import type { Authorizer } from '../../server/authorization.ts';
import { authorizerFor } from '../cel/authorizer.ts';
import { toCel } from '../cel/values.ts';
import { admissionForbidden } from '../forbidden.ts';
import type { AdmissionAttributes, ValidatingAdmissionPlugin } from '../interface.ts';
import type { NamespaceLookup } from '../matching/namespaces.ts';
import { admissionRequest } from '../matching/request.ts';
import { resourceRulesMatch } from '../matching/rules.ts';
import { selectorsMatch } from '../matching/selectors.ts';
import type { MatchResources, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidationAction } from '../registration.ts';
import { byName } from '../matching/order.ts';
import { compilePolicy } from './compile.ts';
import type { ParamSource } from './params.ts';
import { validate, type PolicyDecision } from './validator.ts';

export const PLUGIN_NAME = 'ValidatingAdmissionPolicy';

/** Upstream's limits on what audit annotations carry. */
const MAX_AUDIT_VALUE_LENGTH = 10 * 1024;
const MAX_VALIDATION_FAILURES = 50;

const REASON_CODES: Record<string, number> = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413, Invalid: 422 };

export interface PolicyPluginOptions {
  policies: Informer<ValidatingAdmissionPolicy>;
  bindings: Informer<ValidatingAdmissionPolicyBinding>;
  namespaces: NamespaceLookup;
  params: ParamSource;
  /** What `authorizer` checks ask; without one, every check reports an error. */
  authorizer?: Authorizer;
}

interface Denial {
  policy: string;
  binding?: string;
  message: string;
  reason: string;
}

interface ValidationFailure {
  message: string;
  policy: string;
  binding: string;
  expressionIndex: number;
  validationActions: ValidationAction[];
}

async function matches(match: MatchResources | undefined, a: AdmissionAttributes, namespaces: NamespaceLookup): Promise<boolean> {
  return resourceRulesMatch(match, a) && (await selectorsMatch(match ?? {}, a, namespaces));
}

/** What CEL sees of a namespace (upstream's CreateNamespaceObject): its metadata without managedFields, spec, status. */
function namespaceObject(namespace: KubeObject | undefined): unknown {
  if (!namespace) return null;
  const { managedFields: _managed, ...metadata } = namespace.metadata;
  return toCel({ metadata, spec: namespace.spec ?? {}, status: namespace.status ?? {} });
}

function denied(a: AdmissionAttributes, denial: Denial): StatusError {
  const message = denial.binding
    ? `ValidatingAdmissionPolicy '${denial.policy}' with binding '${denial.binding}' denied request: ${denial.message}`
    : `ValidatingAdmissionPolicy '${denial.policy}' denied request: ${denial.message}`;
  const forbidden = admissionForbidden(a, message);
  const code = REASON_CODES[denial.reason] ?? 422;
  return new StatusError(code, denial.reason, forbidden.message, { ...forbidden.details, causes: [{ message }] });
}

export function validatingAdmissionPolicy(options: PolicyPluginOptions): ValidatingAdmissionPlugin {
  const { policies, bindings, namespaces, params } = options;
  const synced = () => policies.hasSynced() && bindings.hasSynced();

  return {
    name: PLUGIN_NAME,
    // Until both caches are filled, every request is refused below rather than let past policies not yet seen.
    handles: () => !synced() || policies.list().length > 0,

    async validate(a) {
      if (!synced()) throw admissionForbidden(a, 'not yet ready to handle request');
      const denials: Denial[] = [];
      const warnings: string[] = [];
      const failures: ValidationFailure[] = [];
      const auditAnnotations: Record<string, string> = {};
      const request = toCel(admissionRequest(a, randomUUID(), false));
      const object = a.operation === 'DELETE' ? null : toCel(a.object ?? null);
      const oldObject = toCel(a.oldObject ?? null);
      const authorizer = authorizerFor(a, options.authorizer);
      // Read once, and only when a binding applies: most requests match no policy.
      let namespace: Promise<unknown> | undefined;

      for (const policy of policies.list().toSorted(byName)) {
        const name = policy.metadata.name!;
        const failurePolicy = policy.spec?.failurePolicy ?? 'Fail';
        const configError = (message: string, binding?: string) => {
          if (failurePolicy === 'Fail') denials.push({ policy: name, binding, message, reason: 'Invalid' });
        };
        // v1 requires matchConstraints; a policy without them matches nothing.
        if (!policy.spec?.matchConstraints || !(await matches(policy.spec.matchConstraints, a, namespaces))) continue;
        const compiled = compilePolicy(policy);
        const collected = new Map<string, string[]>();

        for (const binding of bindings.list().filter((b) => b.spec?.policyName === name).toSorted(byName)) {
          const bindingName = binding.metadata.name!;
          if (binding.spec.matchResources && !(await matches(binding.spec.matchResources, a, namespaces))) continue;
          let bound: (KubeObject | null)[];
          try {
            bound = await params.collect(policy.spec.paramKind, binding.spec.paramRef, a.namespace);
          } catch (error) {
            configError(`failed to configure binding: ${error instanceof Error ? error.message : String(error)}`, bindingName);
            continue;
          }
          namespace ??= a.namespace ? namespaces.get(a.namespace).then(namespaceObject) : Promise.resolve(null);
          for (const param of bound) {
            const result = await validate(compiled, failurePolicy, {
              object,
              oldObject,
              request,
              params: toCel(param),
              namespaceObject: await namespace,
              authorizer,
            });
            const actions = binding.spec.validationActions ?? [];
            for (const decision of result.decisions.filter((d: PolicyDecision) => d.action === 'deny')) {
              if (actions.includes('Deny')) denials.push({ policy: name, binding: bindingName, message: decision.message, reason: decision.reason });
              if (actions.includes('Warn')) {
                warnings.push(`Validation failed for ValidatingAdmissionPolicy '${name}' with binding '${bindingName}': ${decision.message}`);
              }
              if (actions.includes('Audit')) {
                failures.push({ message: decision.message, policy: name, binding: bindingName, expressionIndex: decision.index, validationActions: actions });
              }
            }
            for (const annotation of result.auditAnnotations) {
              if ('error' in annotation) {
                denials.push({ policy: name, binding: bindingName, message: annotation.error, reason: 'Invalid' });
                continue;
              }
              const values = collected.get(annotation.key) ?? [];
              const value = annotation.value.slice(0, MAX_AUDIT_VALUE_LENGTH);
              if (!values.includes(value)) collected.set(annotation.key, [...values, value]);
            }
          }
        }
        for (const [key, values] of collected) auditAnnotations[`${name}/${key}`] = values.join(', ');
      }

      if (failures.length > 0) {
        auditAnnotations['validation.policy.admission.k8s.io/validation_failure'] = JSON.stringify(failures.slice(0, MAX_VALIDATION_FAILURES));
      }
      if (denials.length > 0) throw denied(a, denials[0]!);
      return { warnings, auditAnnotations };
    },
  };
}
