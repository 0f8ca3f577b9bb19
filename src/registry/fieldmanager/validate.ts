// Checks a value against its merge type before anything merges it (structured-merge-diff typed/validate.go). The
// Go server refuses an apply body that fails here ("failed to create typed patch object …").
import { goTypeName } from './gofmt.ts';
import { elementToString, field, index, serializeElement, type PathElement } from './path.ts';
import type { Atom, ScalarKind } from './schema.ts';
import { asList, asMap, deduceAtom, fieldType, listItemPathElement, prefixed, valueForSharpV, valueForV, type ValidationError } from './typed.ts';
import type { Value } from './value.ts';

/** Every violation of `atom` in `v`; `allowDuplicates` accepts repeated set values and list-map keys (live objects). */
export function validate(v: Value, atom: Atom, allowDuplicates: boolean): ValidationError[] {
  return walk(v, atom, allowDuplicates);
}

function walk(v: Value, atom: Atom, allowDuplicates: boolean): ValidationError[] {
  const a = deduceAtom(atom, v);
  if (a.map) return walkMap(v, a, allowDuplicates);
  if (a.scalar) return scalarErrors(a.scalar, v);
  if (a.list) return walkList(v, a, allowDuplicates);
  return [{ path: '', message: 'schema error: invalid atom: inlined' }];
}

function walkMap(v: Value, atom: Atom, allowDuplicates: boolean): ValidationError[] {
  const m = asMap(v);
  if (m === undefined) return [{ path: '', message: `expected map, got ${valueForV(v)}` }];
  if (m === null) return [];
  const errors: ValidationError[] = [];
  for (const [k, child] of Object.entries(m)) {
    const pe = field(k);
    const type = fieldType(atom.map!, k);
    if (!type) {
      // Upstream stops at the first undeclared field of a map.
      errors.push({ path: elementToString(pe), message: 'field not declared in schema' });
      break;
    }
    errors.push(...prefixed(walk(child, type, allowDuplicates), elementToString(pe)));
  }
  return errors;
}

function walkList(v: Value, atom: Atom, allowDuplicates: boolean): ValidationError[] {
  const list = asList(v);
  if (list === undefined) return [{ path: '', message: `expected list, got ${valueForV(v)}` }];
  if (list === null) return [];
  const t = atom.list!;
  const errors: ValidationError[] = [];
  const seen = new Set<string>();
  for (const [i, child] of list.entries()) {
    let pe: PathElement;
    if (t.atomic) {
      pe = index(i);
    } else {
      try {
        pe = listItemPathElement(t, child);
      } catch (err) {
        // Without a name for the item nothing deeper can be reported; the rest of the list is skipped too.
        errors.push({ path: '', message: `element ${i}: ${(err as Error).message}` });
        return errors;
      }
      const id = serializeElement(pe);
      if (seen.has(id) && !allowDuplicates) errors.push({ path: '', message: `duplicate entries for key ${elementToString(pe)}` });
      seen.add(id);
    }
    errors.push(...prefixed(walk(child, t.element, allowDuplicates), elementToString(pe)));
  }
  return errors;
}

/** validateScalar: which values a scalar kind accepts, and the Go server's wording when one does not fit. */
function scalarErrors(kind: ScalarKind, v: Value): ValidationError[] {
  if (v === null) return [];
  const isScalar = typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean';
  switch (kind) {
    case 'numeric':
      return typeof v === 'number' ? [] : [{ path: '', message: `expected numeric (int or float), got ${goTypeName(v)}` }];
    case 'string':
      return typeof v === 'string' ? [] : [{ path: '', message: `expected string, got ${valueForSharpV(v)}` }];
    case 'boolean':
      return typeof v === 'boolean' ? [] : [{ path: '', message: `expected boolean, got ${valueForV(v)}` }];
    case 'untyped':
      return isScalar ? [] : [{ path: '', message: `expected any scalar, got ${valueForV(v)}` }];
  }
}
