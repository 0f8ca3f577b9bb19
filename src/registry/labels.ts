// Label selectors as k8s.io/apimachinery's pkg/labels `Parse`: the same grammar, the same validation and the same
// error texts, because kubectl, informers and the garbage collector send them verbatim in `labelSelector=`.
//
//   <selector-syntax>         ::= <requirement> | <requirement> "," <selector-syntax>
//   <requirement>             ::= [!] KEY [ <set-based-restriction> | <exact-match-restriction> ]
//   <set-based-restriction>   ::= "" | ("in" | "notin") "(" VALUE ["," VALUE]* ")"
//   <exact-match-restriction> ::= ("=" | "==" | "!=" | ">" | "<") VALUE
import { badRequest } from '../api/errors.ts';
import type { FieldError } from '../api/meta.ts';
import { fieldInvalid } from '../api/field.ts';
import { isLabelValue, isQualifiedName } from './validation.ts';

/** selection.Operator values; `gt`/`lt` compare integers. */
export type Operator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: Operator;
  /** Sorted and de-duplicated, as the Go parser keeps them in a set. */
  values: string[];
}

export interface LabelSelector {
  /** Sorted by key; empty means "everything". */
  readonly requirements: readonly Requirement[];
  matches(labels: Readonly<Record<string, string>> | undefined): boolean;
}

const BINARY_OPERATORS: readonly Operator[] = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];

type Token =
  | 'Error'
  | 'EndOfString'
  | 'ClosedPar'
  | 'Comma'
  | 'DoesNotExist'
  | 'DoubleEquals'
  | 'Equals'
  | 'GreaterThan'
  | 'Identifier'
  | 'In'
  | 'LessThan'
  | 'NotEquals'
  | 'NotIn'
  | 'OpenPar';

// A Map, not an object literal: an identifier such as "constructor" must not find an inherited property.
const KEYWORDS = new Map<string, Token>([
  [')', 'ClosedPar'],
  [',', 'Comma'],
  ['!', 'DoesNotExist'],
  ['==', 'DoubleEquals'],
  ['=', 'Equals'],
  ['>', 'GreaterThan'],
  ['in', 'In'],
  ['<', 'LessThan'],
  ['!=', 'NotEquals'],
  ['notin', 'NotIn'],
  ['(', 'OpenPar'],
]);

interface ScannedItem {
  token: Token;
  literal: string;
}

const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecialSymbol = (ch: string) => '=!(),><'.includes(ch);

function scan(s: string): ScannedItem[] {
  const items: ScannedItem[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWhitespace(s[pos]!)) pos++;
    if (pos >= s.length) {
      items.push({ token: 'EndOfString', literal: '' });
      return items;
    }
    if (isSpecialSymbol(s[pos]!)) {
      // The longest run of special symbols that is still an operator ("!=" rather than "!").
      let buffer = '';
      let longest: ScannedItem | undefined;
      while (pos < s.length && isSpecialSymbol(s[pos]!)) {
        buffer += s[pos];
        const token = KEYWORDS.get(buffer);
        if (token) longest = { token, literal: buffer };
        else if (longest) break;
        pos++;
      }
      items.push(longest ?? { token: 'Error', literal: `error expected: keyword found '${buffer}'` });
    } else {
      const start = pos;
      while (pos < s.length && !isSpecialSymbol(s[pos]!) && !isWhitespace(s[pos]!)) pos++;
      const literal = s.slice(start, pos);
      items.push({ token: KEYWORDS.get(literal) ?? 'Identifier', literal });
    }
  }
}

/** A recursive-descent parser over the scanned items; `in`/`notin` are plain identifiers where values are expected. */
class Parser {
  readonly items: ScannedItem[];
  position = 0;

  constructor(items: ScannedItem[]) {
    this.items = items;
  }

  lookahead(values: boolean): ScannedItem {
    return this.asContext(this.items[this.position]!, values);
  }

  consume(values: boolean): ScannedItem {
    return this.asContext(this.items[this.position++]!, values);
  }

  private asContext(item: ScannedItem, values: boolean): ScannedItem {
    return values && (item.token === 'In' || item.token === 'NotIn') ? { token: 'Identifier', literal: item.literal } : item;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      const { token, literal } = this.lookahead(true);
      if (token === 'EndOfString') return requirements;
      if (token !== 'Identifier' && token !== 'DoesNotExist') throw new SyntaxError(`found '${literal}', expected: !, identifier, or 'end of string'`);
      try {
        requirements.push(this.parseRequirement());
      } catch (err) {
        throw new SyntaxError(`unable to parse requirement: ${(err as Error).message}`);
      }
      const next = this.consume(true);
      if (next.token === 'EndOfString') return requirements;
      if (next.token !== 'Comma') throw new SyntaxError(`found '${next.literal}', expected: ',' or 'end of string'`);
      const after = this.lookahead(true);
      if (after.token !== 'Identifier' && after.token !== 'DoesNotExist') throw new SyntaxError(`found '${after.literal}', expected: identifier after ','`);
    }
  }

  private parseRequirement(): Requirement {
    const { key, operator } = this.parseKeyAndInferOperator();
    if (operator === 'exists' || operator === '!') return newRequirement(key, operator, []);
    const op = this.parseOperator();
    const values = op === 'in' || op === 'notin' ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, [...values].sort());
  }

  // Without an operator after the key, the requirement is `exists` (or `!` when the key was preceded by one).
  private parseKeyAndInferOperator(): { key: string; operator: Operator | undefined } {
    let operator: Operator | undefined;
    let item = this.consume(true);
    if (item.token === 'DoesNotExist') {
      operator = '!';
      item = this.consume(true);
    }
    if (item.token !== 'Identifier') throw new SyntaxError(`found '${item.literal}', expected: identifier`);
    const keyErrors = validateLabelKey(item.literal);
    if (keyErrors.length > 0) throw new SyntaxError(fieldErrorsToString(keyErrors));
    const next = this.lookahead(true).token;
    if ((next === 'EndOfString' || next === 'Comma') && operator !== '!') operator = 'exists';
    return { key: item.literal, operator };
  }

  private parseOperator(): Operator {
    const { token, literal } = this.consume(false);
    switch (token) {
      case 'In':
        return 'in';
      case 'NotIn':
        return 'notin';
      case 'Equals':
        return '=';
      case 'DoubleEquals':
        return '==';
      case 'NotEquals':
        return '!=';
      case 'GreaterThan':
        return 'gt';
      case 'LessThan':
        return 'lt';
      default:
        throw new SyntaxError(`found '${literal}', expected: ${BINARY_OPERATORS.join(', ')}`);
    }
  }

  private parseValues(): Set<string> {
    const open = this.consume(true);
    if (open.token !== 'OpenPar') throw new SyntaxError(`found '${open.literal}' expected: '('`);
    const { token, literal } = this.lookahead(true);
    if (token === 'ClosedPar') {
      this.consume(true);
      return new Set(['']);
    }
    if (token !== 'Identifier' && token !== 'Comma') throw new SyntaxError(`found '${literal}', expected: ',', ')' or identifier`);
    const values = this.parseIdentifiersList();
    // Upstream reports the literal that opened the list here, not the one found; kept for identical messages.
    if (this.consume(true).token !== 'ClosedPar') throw new SyntaxError(`found '${literal}', expected: ')'`);
    return values;
  }

  // A possibly empty, comma-separated list of possibly empty values: "(a,,b)" holds "a", "" and "b".
  private parseIdentifiersList(): Set<string> {
    const values = new Set<string>();
    for (;;) {
      const { token, literal } = this.consume(true);
      if (token === 'Identifier') {
        values.add(literal);
        const next = this.lookahead(true);
        if (next.token === 'Comma') continue;
        if (next.token === 'ClosedPar') return values;
        throw new SyntaxError(`found '${next.literal}', expected: ',' or ')'`);
      }
      if (token !== 'Comma') throw new SyntaxError(`found '${literal}', expected: ',', or identifier`);
      if (values.size === 0) values.add('');
      const next = this.lookahead(true).token;
      if (next === 'ClosedPar') {
        values.add('');
        return values;
      }
      if (next === 'Comma') values.add('');
    }
  }

  private parseExactValue(): Set<string> {
    const next = this.lookahead(true).token;
    if (next === 'EndOfString' || next === 'Comma') return new Set(['']);
    const { token, literal } = this.consume(true);
    if (token === 'Identifier') return new Set([literal]);
    throw new SyntaxError(`found '${literal}', expected: identifier`);
  }
}

// Go's aggregate error text: one error as `path: body`, several as `[a, b]`. (Upstream prints the path of an invalid
// key as "<nil>"; "key" says the same more plainly.)
function fieldErrorsToString(errors: readonly FieldError[]): string {
  const texts = [...new Set(errors.map((e) => `${e.field}: ${e.message}`))];
  return texts.length === 1 ? texts[0]! : `[${texts.join(', ')}]`;
}

function validateLabelKey(key: string): FieldError[] {
  const messages = isQualifiedName(key);
  return messages.length > 0 ? [fieldInvalid('key', key, messages.join('; '))] : [];
}

const INT64 = /^[+-]?[0-9]+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// strconv.ParseInt(s, 10, 64): Gt/Lt compare label values as 64-bit integers; anything else never matches.
function parseInt64(value: string): bigint | undefined {
  if (!INT64.test(value)) return undefined;
  const n = BigInt(value);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

function newRequirement(key: string, operator: Operator, values: string[]): Requirement {
  const errors = validateLabelKey(key);
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errors.push(fieldInvalid('values', values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errors.push(fieldInvalid('values', values, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errors.push(fieldInvalid('values', values, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errors.push(fieldInvalid('values', values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) errors.push(fieldInvalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
  }
  values.forEach((v, i) => {
    const messages = isLabelValue(v);
    if (messages.length > 0) errors.push(fieldInvalid(`values[${i}][${key}]`, v, messages.join('; ')));
  });
  if (errors.length > 0) throw new SyntaxError(fieldErrorsToString(errors));
  return { key, operator, values };
}

function requirementMatches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const present = Object.hasOwn(labels, r.key);
  const value = present ? labels[r.key]! : undefined;
  switch (r.operator) {
    case '=':
    case '==':
    case 'in':
      return value !== undefined && r.values.includes(value);
    case '!=':
    case 'notin':
      return value === undefined || !r.values.includes(value);
    case 'exists':
      return present;
    case '!':
      return !present;
    case 'gt':
    case 'lt': {
      const actual = value === undefined ? undefined : parseInt64(value);
      const bound = parseInt64(r.values[0]!);
      if (actual === undefined || bound === undefined) return false;
      return r.operator === 'gt' ? actual > bound : actual < bound;
    }
  }
}

function selectorOf(requirements: Requirement[]): LabelSelector {
  // A stable sort by key, so that equal selectors print equally whatever order they were written in.
  const sorted = requirements.toSorted((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    requirements: sorted,
    matches: (labels) => sorted.every((r) => requirementMatches(r, labels ?? {})),
  };
}

/** Parses a `labelSelector` query value; a malformed one is a 400 BadRequest with the upstream message. */
export function parseLabelSelector(s: string): LabelSelector {
  try {
    return selectorOf(new Parser(scan(s)).parse());
  } catch (err) {
    if (err instanceof SyntaxError) throw badRequest(err.message);
    throw err;
  }
}

function requirementToString(r: Requirement): string {
  const values = r.values.join(',');
  switch (r.operator) {
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'in':
    case 'notin':
      return `${r.key} ${r.operator} (${values})`;
    case 'gt':
      return `${r.key}>${values}`;
    case 'lt':
      return `${r.key}<${values}`;
    default:
      return `${r.key}${r.operator}${values}`;
  }
}

/** The canonical text of a selector (requirements sorted by key, whitespace dropped), as Go's `String()`. */
export function labelSelectorToString(selector: LabelSelector): string {
  return selector.requirements.map(requirementToString).join(',');
}

/** `a=1,b=2` for a set of labels, e.g. a Scale's `status.selector` from a workload's `matchLabels`. */
export function selectorFromMatchLabels(matchLabels: Readonly<Record<string, string>>): string {
  return Object.keys(matchLabels)
    .sort()
    .map((key) => `${key}=${matchLabels[key]}`)
    .join(',');
}
