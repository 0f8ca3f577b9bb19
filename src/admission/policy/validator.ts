// One policy evaluated for one binding and one param (upstream's validator.Validate): matchConditions, then each
// validation with its message, then the audit annotations. Errors become decisions under the failurePolicy: Fail
// denies with the error as the message, Ignore admits.
import type { FailurePolicy, Validation } from '../registration.ts';
import { EvaluationError } from '../cel/environment.ts';
import type { CompiledPolicy, NamedProgram } from './compile.ts';

/** Upstream's MaxEvaluatedMessageExpressionSizeBytes. */
const MAX_MESSAGE_BYTES = 5 * 1024;

export interface PolicyDecision {
  action: 'admit' | 'deny';
  message: string;
  /** The Status reason of a denial. */
  reason: NonNullable<Validation['reason']>;
  /** Index of the validation, for the audit record. */
  index: number;
}

export type AuditAnnotationResult = { key: string; value: string } | { key: string; error: string };

export interface ValidateResult {
  decisions: PolicyDecision[];
  auditAnnotations: AuditAnnotationResult[];
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** `variables.NAME` evaluated on first use and then remembered, so a variable nobody reads costs nothing. */
function lazyVariables(variables: NamedProgram[], activation: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const { name, program } of variables) {
    let done = false;
    let value: unknown;
    Object.defineProperty(values, name, {
      enumerable: true,
      get() {
        if (!done) {
          try {
            value = program.evaluate(activation);
          } catch (error) {
            throw new EvaluationError(`composited variable "${name}" fails to evaluate: ${messageOf(error)}`);
          }
          done = true;
        }
        return value;
      },
    });
  }
  return values;
}

function denialMessage(validation: Validation, evaluated: unknown): string {
  if (typeof evaluated === 'string') {
    const message = evaluated.trim();
    if (message && Buffer.byteLength(message) <= MAX_MESSAGE_BYTES && !message.includes('\n')) return message;
  }
  const fixed = validation.message?.trim();
  return fixed || `failed expression: ${validation.expression.trim()}`;
}

export function validate(policy: CompiledPolicy, failurePolicy: FailurePolicy, base: Record<string, unknown>): ValidateResult {
  const onError = (message: string, index = 0): PolicyDecision => ({
    action: failurePolicy === 'Ignore' ? 'admit' : 'deny',
    message,
    reason: 'Invalid',
    index,
  });
  const activation: Record<string, unknown> = { ...base };
  activation['variables'] = lazyVariables(policy.variables, activation);

  // Any false condition skips the policy; errors count only when no condition is false.
  const errors: string[] = [];
  for (const { program } of policy.matchConditions) {
    try {
      if (program.evaluate(activation) === false) return { decisions: [], auditAnnotations: [] };
    } catch (error) {
      errors.push(messageOf(error));
    }
  }
  if (errors.length > 0) {
    const message = errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`;
    return { decisions: failurePolicy === 'Ignore' ? [] : [onError(message)], auditAnnotations: [] };
  }

  const decisions = policy.validations.map(({ validation, program, message }, index): PolicyDecision => {
    let passed: unknown;
    try {
      passed = program.evaluate(activation);
    } catch (error) {
      return onError(messageOf(error), index);
    }
    if (passed === true) return { action: 'admit', message: '', reason: 'Invalid', index };
    let evaluated: unknown;
    try {
      evaluated = message?.evaluate(activation);
    } catch {
      // An unusable messageExpression falls back to the message, as upstream does.
    }
    return { action: 'deny', message: denialMessage(validation, evaluated), reason: validation.reason ?? 'Invalid', index };
  });

  const auditAnnotations: AuditAnnotationResult[] = [];
  for (const { key, program } of policy.auditAnnotations) {
    let value: unknown;
    try {
      value = program.evaluate(activation);
    } catch (error) {
      if (failurePolicy !== 'Ignore') auditAnnotations.push({ key, error: messageOf(error) });
      continue;
    }
    if (value === null) continue;
    if (typeof value !== 'string') {
      auditAnnotations.push({
        key,
        error: `valueExpression '${program.expression}' resulted in unsupported return type: ${typeof value}. Return type must be either string or null.`,
      });
    } else if (value.trim()) {
      auditAnnotations.push({ key, value: value.trim() });
    }
  }
  return { decisions, auditAnnotations };
}
