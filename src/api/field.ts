// Field errors as k8s.io/apimachinery/pkg/util/validation/field builds them: the message is the error's "body"
// (`Invalid value: "x": detail`), so `invalid()` can print `spec.engine: Invalid value: ...` like kube-apiserver.
import { isDeepStrictEqual } from 'node:util';
import type { FieldError } from './meta.ts';

/** How a bad value is quoted in a message: strings as JSON strings, everything else as JSON. */
function show(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

function withDetail(body: string, detail: string | undefined): string {
  return detail ? `${body}: ${detail}` : body;
}

export const fieldRequired = (field: string, detail?: string): FieldError => ({
  type: 'FieldValueRequired',
  field,
  message: withDetail('Required value', detail),
});

export const fieldInvalid = (field: string, value: unknown, detail: string): FieldError => ({
  type: 'FieldValueInvalid',
  field,
  message: withDetail(`Invalid value: ${show(value)}`, detail),
});

export const fieldTypeInvalid = (field: string, value: unknown, detail: string): FieldError => ({
  type: 'FieldValueTypeInvalid',
  field,
  message: withDetail(`Invalid value: ${show(value)}`, detail),
});

export const fieldNotSupported = (field: string, value: unknown, supported: readonly unknown[]): FieldError => ({
  type: 'FieldValueNotSupported',
  field,
  message: withDetail(`Unsupported value: ${show(value)}`, `supported values: ${supported.map(show).join(', ')}`),
});

export const fieldNotFound = (field: string, value: unknown, detail?: string): FieldError => ({
  type: 'FieldValueNotFound',
  field,
  message: withDetail(`Not found: ${show(value)}`, detail),
});

export const fieldForbidden = (field: string, detail: string): FieldError => ({
  type: 'FieldValueForbidden',
  field,
  message: withDetail('Forbidden', detail),
});

export const fieldDuplicate = (field: string, value: unknown): FieldError => ({
  type: 'FieldValueDuplicate',
  field,
  message: `Duplicate value: ${show(value)}`,
});

export const fieldTooLong = (field: string, maxLength: number): FieldError => ({
  type: 'FieldValueTooLong',
  field,
  message: `Too long: may not be more than ${maxLength} bytes`,
});

export const fieldTooMany = (field: string, actual: number, max: number): FieldError => ({
  type: 'FieldValueTooMany',
  field,
  message: `Too many: ${actual}: must have at most ${max} items`,
});

/** `spec.storage` + `size` → `spec.storage.size`; `spec.items` + 1 → `spec.items[1]`. */
export function childPath(parent: string, child: string | number): string {
  if (typeof child === 'number') return `${parent}[${child}]`;
  return parent ? `${parent}.${child}` : child;
}

/** A map entry: `spec.parameters` + `max_connections` → `spec.parameters[max_connections]` (as field.Path.Key). */
export function keyPath(parent: string, key: string): string {
  return `${parent}[${key}]`;
}

/** `validation.IsDNS1035Label`: the names of Services, and so of every Database. */
export const DNS1035_LABEL_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
/** `validation.IsDNS1123Subdomain`: the names of most objects (Secrets, PVCs, StorageClasses, Backups). */
export const DNS1123_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const DNS1035_LABEL = new RegExp(DNS1035_LABEL_PATTERN);

/**
 * The checks `validation.IsDNS1035Label` makes, with its messages. Names that become Service or StatefulSet names
 * must pass it; `maxLength` is lower where a suffix is appended later.
 */
export function dns1035LabelErrors(field: string, value: string, maxLength = 63): FieldError[] {
  const errors: FieldError[] = [];
  if (value.length > maxLength) errors.push(fieldInvalid(field, value, `must be no more than ${maxLength} characters`));
  if (!DNS1035_LABEL.test(value)) {
    errors.push(
      fieldInvalid(
        field,
        value,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      ),
    );
  }
  return errors;
}

/**
 * `ValidateImmutableField` for each field of an object (`spec` of a Backup, say): a changed field is
 * `Invalid value: ...: field is immutable`. Fields in `mutable` may change; fields in `settable` may go from unset
 * to set once (a default resolved later) but not change after.
 */
export function immutableFieldErrors(
  path: string,
  next: Record<string, unknown> | undefined,
  prev: Record<string, unknown> | undefined,
  options: { mutable?: readonly string[]; settable?: readonly string[] } = {},
): FieldError[] {
  const keys = new Set([...Object.keys(prev ?? {}), ...Object.keys(next ?? {})]);
  const errors: FieldError[] = [];
  for (const key of [...keys].sort()) {
    if (options.mutable?.includes(key)) continue;
    const before = prev?.[key];
    const after = next?.[key];
    if (before === undefined && options.settable?.includes(key)) continue;
    if (!isDeepStrictEqual(before, after)) errors.push(fieldInvalid(childPath(path, key), after, 'field is immutable'));
  }
  return errors;
}
