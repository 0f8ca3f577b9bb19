// One policy evaluated for one binding and one param (upstream's validator.Validate): matchConditions, then each
// validation with its message, then the audit annotations. Errors become decisions under the failurePolicy: Fail
// denies with the error as the message, Ignore admits.
import type { FailurePolicy, Validation } from '../registration.ts';
import { EvaluationError } from '../cel/environment.ts';
import type { CompiledPolicy, CompiledValidation, NamedProgram } from './compile.ts';

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

/**
 * `variables.NAME`, each evaluated once, in order (a variable may read the ones before it). Upstream evaluates them
 * on first use; evaluation may be asynchronous here (authorizer checks), which a lazy read cannot be, so they are
 * evaluated up front and a failure is kept until an expression reads that variable, as upstream reports it then.
 */
async function evaluateVariables(variables: NamedProgram[], activation: Record<string, unknown>): Promise<Record<string, unknown>> {
  const values: Record<string, unknown> = {};
  activation['variables'] = values;
  for (const { name, program } of variables) {
    try {
      values[name] = await program.evaluate(activation);
    } catch (error) {
      const failure = new EvaluationError(`composited variable "${name}" fails to evaluate: ${messageOf(error)}`);
      Object.defineProperty(values, name, {
        enumerable: true,
        get() {
          throw failure;
        },
      });
    }
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

/** Under Fail an expression that cannot be evaluated denies, with its error as the message; under Ignore it admits. */
function errorDecision(failurePolicy: FailurePolicy, message: string, index = 0): PolicyDecision {
  return { action: failurePolicy === 'Ignore' ? 'admit' : 'deny', message, reason: 'Invalid', index };
}

async function decideValidation(
  { validation, program, message }: CompiledValidation,
  index: number,
  activation: Record<string, unknown>,
  failurePolicy: FailurePolicy,
): Promise<PolicyDecision> {
  let passed: unknown;
  try {
    passed = await program.evaluate(activation);
  } catch (error) {
    return errorDecision(failurePolicy, messageOf(error), index);
  }
  if (passed === true) return { action: 'admit', message: '', reason: 'Invalid', index };
  let evaluated: unknown;
  try {
    evaluated = await message?.evaluate(activation);
  } catch {
    // An unusable messageExpression falls back to the message, as upstream does.
  }
  return { action: 'deny', message: denialMessage(validation, evaluated), reason: validation.reason ?? 'Invalid', index };
}

export async function validate(policy: CompiledPolicy, failurePolicy: FailurePolicy, base: Record<string, unknown>): Promise<ValidateResult> {
  const activation: Record<string, unknown> = { ...base };
  await evaluateVariables(policy.variables, activation);

  // Any false condition skips the policy; errors count only when no condition is false.
  const errors: string[] = [];
  for (const { program } of policy.matchConditions) {
    try {
      if ((await program.evaluate(activation)) === false) return { decisions: [], auditAnnotations: [] };
    } catch (error) {
      errors.push(messageOf(error));
    }
  }
  if (errors.length > 0) {
    const message = errors.length === 1 ? errors[0]! : `[${errors.join(', ')}]`;
    return { decisions: failurePolicy === 'Ignore' ? [] : [errorDecision(failurePolicy, message)], auditAnnotations: [] };
  }

  const decisions: PolicyDecision[] = [];
  for (const [index, validation] of policy.validations.entries()) {
    decisions.push(await decideValidation(validation, index, activation, failurePolicy));
  }
  const auditAnnotations: AuditAnnotationResult[] = [];
  for (const { key, program } of policy.auditAnnotations) {
    let value: unknown;
    try {
      value = await program.evaluate(activation);
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
