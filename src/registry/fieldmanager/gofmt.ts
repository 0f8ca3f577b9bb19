// Text that kube-apiserver prints from Go values (`%q`, `%v`, `%#v`, encoding/json). Conflict messages, FieldsV1
// keys and validation errors are compared byte for byte by clients and tests, so they are rendered the Go way.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
export function isPrintable(char: string): boolean {
  return PRINTABLE.test(char);
}

/** Orders strings as Go does (UTF-8 bytes, i.e. code points), not by UTF-16 code units. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Byte length of a string in UTF-8, which is what Go's `len` counts. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

const SHORT_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** `strconv.Quote` / `%q`. */
export function goQuote(s: string): string {
  let out = '"';
  for (const char of s) {
    const cp = char.codePointAt(0)!;
    if (char === '"' || char === '\\') out += `\\${char}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd'; // a lone surrogate reaches Go as invalid UTF-8
    else if (isPrintable(char)) out += char;
    else if (SHORT_ESCAPES[char]) out += SHORT_ESCAPES[char];
    else if (cp < 0x80) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return `${out}"`;
}

/** `%#U` of a rune: `U+0001`. */
export function goRune(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;

/**
 * encoding/json's `Marshal`: object keys sorted by bytes, `<`, `>`, `&`, U+2028 and U+2029 escaped. Built by hand
 * because JSON.stringify puts integer-like keys first.
 */
export function goJSON(value: unknown): string {
  return encode(value).replace(HTML_UNSAFE, (c) => `\\u${hex(c.charCodeAt(0), 4)}`);
}

function encode(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort(compareStrings);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k])}`).join(',')}}`;
}

/**
 * `%v` of a float64 (strconv 'g', shortest, exponent below 1e-4 and from 1e6 on). JSON numbers without a fraction
 * decode to int64 in the Go server, so integers print as integers.
 */
export function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString();
  const [mantissa, exponent] = n.toExponential().split('e');
  const exp = Number(exponent);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** `%T` of a decoded JSON value. */
export function goTypeName(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (Array.isArray(value)) return '[]interface {}';
  return 'map[string]interface {}';
}

/** `%v` of a decoded JSON value. */
export function goValue(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'number') return goNumber(value);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(goValue).join(' ')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort(compareStrings);
  return `map[${keys.map((k) => `${k}:${goValue(record[k])}`).join(' ')}]`;
}

/** `%#v` of a decoded JSON value held in an `interface{}`. */
export function goSyntax(value: unknown): string {
  if (value === null || value === undefined) return 'interface {}(nil)';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number') return goNumber(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[]interface {}{${value.map(goSyntax).join(', ')}}`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort(compareStrings);
  return `map[string]interface {}{${keys.map((k) => `${goQuote(k)}:${goSyntax(record[k])}`).join(', ')}}`;
}
