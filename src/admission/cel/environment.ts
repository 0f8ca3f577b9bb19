// CEL as kube-apiserver offers it to admission expressions: the standard library and macros from
// @marcbachmann/cel-js (with optional types and cel.bind, which Kubernetes enables), plus the Kubernetes and cel-go
// extension libraries that policies use: strings, lists, regex (RE2), quantity and authorizer.
//
// Why @marcbachmann/cel-js rather than @bufbuild/cel (both checked against the expressions policies are written
// with): bufbuild 0.6 cannot parse optional field selection (`object.?spec.?backup.orValue(...)`), has no
// `cel.bind`, and drags in protobuf runtime types; marcbachmann parses and type-checks both, lets receiver functions
// and custom types be declared by signature, and has no dependencies. Its one gap is that the standard `matches`
// uses JavaScript regular expressions rather than RE2; the regex extensions here (`find`, `findAll`) use re2js.
import { Environment } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { registerAuthorizerLibrary } from './authorizer.ts';
import { registerQuantityLibrary } from './quantity.ts';

/** Compiling an expression failed: a syntax error, an undeclared name, or the wrong result type. */
export class CompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompileError';
  }
}

/** Evaluating a compiled expression failed; the message is kube-apiserver's. */
export class EvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationError';
  }
}

export type ResultType = 'bool' | 'string' | 'any';

export interface Program {
  readonly expression: string;
  /** Evaluates against CEL values (see values.ts); rejects with EvaluationError. */
  evaluate(activation: Record<string, unknown>): Promise<unknown>;
}

const compiledPatterns = new Map<string, RE2JS>();

/** RE2 patterns compile once; policies reuse a handful of them on every request. */
function re2(pattern: string): RE2JS {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    compiled = RE2JS.compile(pattern);
    if (compiledPatterns.size > 1000) compiledPatterns.clear();
    compiledPatterns.set(pattern, compiled);
  }
  return compiled;
}

function findAll(s: string, pattern: string, limit = -1): string[] {
  const found: string[] = [];
  const matcher = re2(pattern).matcher(s);
  while ((limit < 0 || found.length < limit) && matcher.find()) found.push(matcher.group() ?? '');
  return found;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' && typeof b === 'number') return Number(a) === b;
  if (typeof a === 'number' && typeof b === 'bigint') return a === Number(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => equal((a as any)[k], (b as any)[k]));
  }
  return false;
}

function order(a: any, b: any): number {
  if (typeof a !== typeof b && !(isNumber(a) && isNumber(b))) throw new Error(`no such overload: comparing ${typeof a} and ${typeof b}`);
  return a < b ? -1 : a > b ? 1 : 0;
}
const isNumber = (x: unknown) => typeof x === 'bigint' || typeof x === 'number';

function extreme(list: unknown[], name: 'min' | 'max'): unknown {
  if (list.length === 0) throw new Error(`${name} called on empty list`);
  return list.reduce((best, x) => ((name === 'min' ? order(x, best) < 0 : order(x, best) > 0) ? x : best));
}

function flatten(list: unknown[], depth: number): unknown[] {
  return list.flatMap((x) => (Array.isArray(x) && depth > 0 ? flatten(x, depth - 1) : [x]));
}

/** `"%s has %d replicas".format([name, n])`: the verbs policies use (%s %d %f %.Nf %v %%). */
function format(template: string, args: unknown[]): string {
  let next = 0;
  return template.replace(/%(\.(\d+))?([sdfve%])/g, (_whole, _p, precision: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (next >= args.length) throw new Error(`index ${next} out of range`);
    const arg = args[next++];
    if (verb === 'f' || verb === 'e') {
      const n = Number(arg);
      const digits = precision === undefined ? 6 : Number(precision);
      return verb === 'f' ? n.toFixed(digits) : n.toExponential(digits);
    }
    if (verb === 'd' && !isNumber(arg)) throw new Error(`error during formatting: decimal clause can only be used on integers`);
    return typeof arg === 'string' ? arg : JSON.stringify(arg, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
  });
}

function kubernetesEnvironment(): Environment {
  const env = new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false })
    // strings extension (cel-go ext.Strings) beyond what the standard library has
    .registerFunction('string.charAt(int): string', (s: string, i: bigint) => {
      if (i < 0n || i > BigInt(s.length)) throw new Error(`index out of range: ${i}`);
      return s.charAt(Number(i));
    })
    .registerFunction('string.replace(string, string): string', (s: string, from: string, to: string) => s.replaceAll(from, to))
    .registerFunction('string.replace(string, string, int): string', (s: string, from: string, to: string, n: bigint) => {
      let out = s;
      let index = 0;
      for (let done = 0n; n < 0n || done < n; done++) {
        const at = out.indexOf(from, index);
        if (at < 0) break;
        out = out.slice(0, at) + to + out.slice(at + from.length);
        index = at + to.length;
      }
      return out;
    })
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
    .registerFunction('string.format(list): string', format)
    // regex library (k8s.io/apiserver/pkg/cel/library/regex.go), on RE2 as upstream
    .registerFunction('string.find(string): string', (s: string, p: string) => findAll(s, p, 1)[0] ?? '')
    .registerFunction('string.findAll(string): list<string>', (s: string, p: string) => findAll(s, p))
    .registerFunction('string.findAll(string, int): list<string>', (s: string, p: string, n: bigint) => findAll(s, p, Number(n)))
    // lists library (k8s.io/apiserver/pkg/cel/library/lists.go) and cel-go's ext.Lists
    .registerFunction('list.isSorted(): bool', (l: unknown[]) => l.every((x, i) => i === 0 || order(l[i - 1], x) <= 0))
    .registerFunction('list.sum(): dyn', (l: unknown[]) => (l.length === 0 ? 0n : l.reduce((a: any, b: any) => a + b)))
    .registerFunction('list.min(): dyn', (l: unknown[]) => extreme(l, 'min'))
    .registerFunction('list.max(): dyn', (l: unknown[]) => extreme(l, 'max'))
    .registerFunction('list.indexOf(dyn): int', (l: unknown[], x: unknown) => BigInt(l.findIndex((y) => equal(x, y))))
    .registerFunction('list.lastIndexOf(dyn): int', (l: unknown[], x: unknown) => BigInt(l.findLastIndex((y) => equal(x, y))))
    .registerFunction('list.slice(int, int): list', (l: unknown[], from: bigint, to: bigint) => {
      if (from < 0n || to < from || to > BigInt(l.length)) throw new Error(`cannot slice(${from}, ${to}), list has ${l.length} elements`);
      return l.slice(Number(from), Number(to));
    })
    .registerFunction('list.flatten(): list', (l: unknown[]) => flatten(l, 1))
    .registerFunction('list.flatten(int): list', (l: unknown[], depth: bigint) => flatten(l, Number(depth)))
    .registerFunction('list.distinct(): list', (l: unknown[]) => l.filter((x, i) => l.findIndex((y) => equal(x, y)) === i))
    .registerFunction('list.reverse(): list', (l: unknown[]) => l.toReversed())
    .registerFunction('list.sort(): list', (l: unknown[]) => l.toSorted(order));
  return registerAuthorizerLibrary(registerQuantityLibrary(env));
}

const base = kubernetesEnvironment();
const environments = new Map<string, Environment>();

/** One environment per set of declared variables (building one is costly; a clone shares the registry). */
function environmentFor(variables: readonly string[]): Environment {
  const key = variables.join(',');
  let env = environments.get(key);
  if (!env) {
    env = base.clone();
    // Objects are schemaless JSON to the checker; the authorizer is the one typed value, so its methods are checked.
    for (const name of variables) env.registerVariable(name, name === 'authorizer' ? 'Authorizer' : 'dyn');
    environments.set(key, env);
  }
  return env;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}

/**
 * Parses and type-checks `expression` with `variables` declared, as upstream's compiler: undeclared names and results
 * of the wrong type are compile errors, reported before any request is evaluated.
 */
export function compile(expression: string, variables: readonly string[], resultType: ResultType): Program {
  const env = environmentFor(variables);
  let evaluate: ReturnType<Environment['parse']>;
  try {
    evaluate = env.parse(expression);
  } catch (error) {
    throw new CompileError(`compilation failed: ${firstLine(error)}`);
  }
  const checked = evaluate.check();
  if (!checked.valid) throw new CompileError(`compilation failed: ${firstLine(checked.error)}`);
  if (resultType !== 'any' && checked.type !== resultType && checked.type !== 'dyn') {
    throw new CompileError(`must evaluate to ${resultType} but got ${checked.type}`);
  }
  return {
    expression,
    async evaluate(activation) {
      let result: unknown;
      try {
        // A Promise when the expression calls an asynchronous function (the authorizer's checks).
        result = await evaluate(activation);
      } catch (error) {
        throw new EvaluationError(`expression '${expression}' resulted in error: ${firstLine(error)}`);
      }
      if (resultType === 'bool' && typeof result !== 'boolean') {
        throw new EvaluationError(`expression '${expression}' resulted in error: no such overload`);
      }
      return result;
    },
  };
}
