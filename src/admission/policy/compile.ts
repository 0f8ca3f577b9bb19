// A ValidatingAdmissionPolicy's expressions compiled once per version of the policy. An expression that does not
// compile does not spoil the others: it fails when evaluated, under the policy's failurePolicy, as upstream's
// per-expression compilation results do.
import { CompileError, compile, type Program, type ResultType } from '../cel/environment.ts';
import type { ValidatingAdmissionPolicy, Validation } from '../registration.ts';

/** What every policy expression may read (upstream's admission CEL environment). */
export const POLICY_VARIABLES = ['object', 'oldObject', 'request', 'params', 'namespaceObject', 'variables', 'authorizer'] as const;

export interface NamedProgram {
  name: string;
  program: Program;
}

export interface CompiledValidation {
  validation: Validation;
  program: Program;
  message: Program | undefined;
}

export interface CompiledPolicy {
  matchConditions: NamedProgram[];
  variables: NamedProgram[];
  validations: CompiledValidation[];
  auditAnnotations: { key: string; program: Program }[];
}

function compileOrDefer(expression: string, resultType: ResultType): Program {
  try {
    return compile(expression, POLICY_VARIABLES, resultType);
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
    return {
      expression,
      evaluate: () => Promise.reject(error),
    };
  }
}

const compiled = new WeakMap<ValidatingAdmissionPolicy, CompiledPolicy>();

/** Informer objects are frozen and replaced on every change, so the object itself keys its compilation. */
export function compilePolicy(policy: ValidatingAdmissionPolicy): CompiledPolicy {
  let result = compiled.get(policy);
  if (!result) {
    const spec = policy.spec ?? {};
    result = {
      matchConditions: (spec.matchConditions ?? []).map((c) => ({ name: c.name, program: compileOrDefer(c.expression, 'bool') })),
      variables: (spec.variables ?? []).map((v) => ({ name: v.name, program: compileOrDefer(v.expression, 'any') })),
      validations: (spec.validations ?? []).map((validation) => ({
        validation,
        program: compileOrDefer(validation.expression, 'bool'),
        message: validation.messageExpression ? compileOrDefer(validation.messageExpression, 'string') : undefined,
      })),
      auditAnnotations: (spec.auditAnnotations ?? []).map((a) => ({ key: a.key, program: compileOrDefer(a.valueExpression, 'any') })),
    };
    compiled.set(policy, result);
  }
  return result;
}
