// Field selectors as k8s.io/apimachinery's pkg/fields: `field=value`, `field==value`, `field!=value`, comma-joined,
// with `\,` `\=` `\\` escapes in values. Every resource supports metadata.name and metadata.namespace; a
// definition's `selectableFields` add more. `kubectl get -w NAME`, `kubectl delete --wait` and single-object
// informers all select with `metadata.name=<name>`.
import { badRequest } from '../api/errors.ts';

export interface FieldRequirement {
  field: string;
  /** `==` is parsed as `=`. */
  operator: '=' | '!=';
  value: string;
}

export interface FieldSelector {
  /** In the order of the sorted terms; empty means "everything". */
  readonly requirements: readonly FieldRequirement[];
  /** A field that is absent counts as the empty string, as upstream. */
  matches(fields: Readonly<Record<string, string | undefined>>): boolean;
}

const ALWAYS_SELECTABLE = ['metadata.name', 'metadata.namespace'];

// Splits on commas that are not escaped; escapes stay in the terms until each value is unescaped.
function splitTerms(selector: string): string[] {
  if (selector === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

// The first operator found left to right wins, trying "!=" and "==" before "=" at each position.
function splitTerm(term: string): { field: string; operator: '!=' | '==' | '='; value: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const operator of ['!=', '==', '='] as const) {
      if (term.startsWith(operator, i)) return { field: term.slice(0, i), operator, value: term.slice(i + operator.length) };
    }
  }
  return undefined;
}

function unescapeValue(value: string): string {
  if (!/[\\,=]/.test(value)) return value;
  let out = '';
  let inSlash = false;
  for (const c of value) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === '\\') {
      inSlash = true;
    } else if (c === ',' || c === '=') {
      // Go prints the rune's code point here, e.g. "61" for '='.
      throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else {
      out += c;
    }
  }
  if (inSlash) throw badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/**
 * Parses a `fieldSelector` query value. `selectable` lists the resource's extra fields; metadata.name and
 * metadata.namespace are always allowed. Malformed selectors and unknown fields are 400 BadRequest.
 */
export function parseFieldSelector(selector: string, selectable: readonly string[] = []): FieldSelector {
  const allowed = [...new Set([...ALWAYS_SELECTABLE, ...selectable])];
  const requirements: FieldRequirement[] = [];
  // Sorted like upstream, so that the first error reported is the same.
  for (const term of splitTerms(selector).sort()) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (!parts) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    requirements.push({ field: parts.field, operator: parts.operator === '!=' ? '!=' : '=', value: unescapeValue(parts.value) });
  }
  for (const { field } of requirements) {
    if (!allowed.includes(field))
      throw badRequest(`${JSON.stringify(field)} is not a known field selector: only ${allowed.map((f) => JSON.stringify(f)).join(', ')}`);
  }
  return {
    requirements,
    matches: (fields) =>
      requirements.every((r) => {
        const actual = (Object.hasOwn(fields, r.field) ? fields[r.field] : undefined) ?? '';
        return r.operator === '=' ? actual === r.value : actual !== r.value;
      }),
  };
}

/**
 * The name a selector pins with `metadata.name=X`, if any: a list or watch of one object, which RBAC
 * `resourceNames` can authorize (upstream's `RequiresExactMatch("metadata.name")`).
 */
export function requiredName(selector: FieldSelector): string | undefined {
  return selector.requirements.find((r) => r.field === 'metadata.name' && r.operator === '=')?.value;
}
