// Decoded JSON values with structured-merge-diff's equality and total order (sigs.k8s.io/structured-merge-diff
// value/value.go): numbers < strings < booleans < lists < maps < null, ints and floats compared numerically.
import { compareStrings, goNumber, goQuote } from './gofmt.ts';

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };
export type ValueMap = { [key: string]: Value };

export function isMap(v: unknown): v is ValueMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rank(v: Value): number {
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (v === null) return 5;
  return 4;
}

export function equals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => equals(item, b[i]!));
  if (isMap(a)) {
    if (!isMap(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && equals(a[k]!, b[k]!));
  }
  return false;
}

export function compare(a: Value, b: Value): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
    case 1:
      return compareStrings(a as string, b as string);
    case 2:
      return a === b ? 0 : a ? 1 : -1;
    case 3:
      return compareLists(a as Value[], b as Value[]);
    case 4:
      return compareMaps(a as ValueMap, b as ValueMap);
    default:
      return 0;
  }
}

function compareLists(a: Value[], b: Value[]): number {
  for (let i = 0; ; i++) {
    if (i >= a.length && i >= b.length) return 0;
    if (i >= a.length) return -1;
    if (i >= b.length) return 1;
    const c = compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
}

// MapCompareUsing: walks the union of keys in lexical order.
function compareMaps(a: ValueMap, b: ValueMap): number {
  const aLength = Object.keys(a).length;
  const bLength = Object.keys(b).length;
  if (aLength === 0 && bLength === 0) return 0;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(compareStrings);
  let i = 0;
  for (const key of keys) {
    let c: number;
    if (i === aLength) c = -1;
    else if (i === bLength) c = 1;
    else if (!(key in a)) c = 1;
    else if (!(key in b)) c = -1;
    else c = compare(a[key]!, b[key]!);
    i++;
    if (c !== 0) return c;
  }
  return 0;
}

/** value.ToString: how a value appears inside a field path in messages (`[type="Ready"]`). */
export function valueToString(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(valueToString).join(',')}]`;
  return Object.keys(v)
    .sort(compareStrings)
    .map((k) => `${k}=${valueToString(v[k]!)}`)
    .join('');
}
