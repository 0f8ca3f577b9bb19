// `metadata.managedFields` on the wire and in memory (apimachinery managedfields internal/managedfields.go). In memory
// a manager is identified by its entry without fields and time — so an applier is one manager whatever version it
// applies, while an updater is one manager per apiVersion — and every identifier maps to a field set and a time.
import type { FieldError, ManagedFieldsEntry } from '../../api/meta.ts';
import { compareStrings, goJSON, goQuote, utf8Length } from './gofmt.ts';
import { fromFieldsV1, toFieldsV1 } from './fieldsv1.ts';
import { validateFieldManager } from './manager.ts';
import type { ManagedFields, VersionedSet } from './updater.ts';

export interface Managed {
  readonly fields: ManagedFields;
  /** RFC 3339 times by identifier; an entry may have none. */
  readonly times: ReadonlyMap<string, string | undefined>;
}

export const emptyManaged = (): Managed => ({ fields: new Map(), times: new Map() });

/** An entry as decoded by the Go server: absent strings are empty, time is normalized, fieldsV1 is raw JSON. */
export interface DecodedEntry {
  readonly manager: string;
  readonly operation: string;
  readonly apiVersion: string;
  readonly time: string | undefined;
  readonly fieldsType: string;
  readonly fieldsV1: unknown;
  readonly subresource: string;
}

export interface ManagerInfo {
  readonly manager: string;
  readonly operation: 'Apply' | 'Update';
  readonly apiVersion: string;
  readonly subresource: string;
}

/** BuildManagerIdentifier: the entry's JSON without fieldsType, fieldsV1 and time, and without apiVersion for Apply. */
export function managerIdentifier(info: ManagerInfo): string {
  const parts: string[] = [];
  if (info.manager) parts.push(`"manager":${goJSON(info.manager)}`);
  parts.push(`"operation":${goJSON(info.operation)}`);
  if (info.operation === 'Update' && info.apiVersion) parts.push(`"apiVersion":${goJSON(info.apiVersion)}`);
  if (info.subresource) parts.push(`"subresource":${goJSON(info.subresource)}`);
  return `{${parts.join(',')}}`;
}

/** The entry an identifier came from; undefined for the internal, non-JSON identifiers. */
export function parseIdentifier(identifier: string): Partial<ManagerInfo> | undefined {
  try {
    const parsed: unknown = JSON.parse(identifier);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<ManagerInfo>) : undefined;
  } catch {
    return undefined;
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** metav1.Time as it marshals: RFC 3339 in UTC, whole seconds. */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(s: string): string | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(s);
  if (Number.isNaN(ms) || Number(m[2]) > 12 || Number(m[3]) > 31 || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return undefined;
  return formatTime(new Date(ms));
}

const STRING_FIELDS = ['manager', 'operation', 'apiVersion', 'fieldsType', 'subresource'] as const;

/**
 * The entries of a `metadata.managedFields` value, or undefined when it is absent or malformed in any entry: the Go
 * server then reads the list as not sent at all (unstructured GetManagedFields).
 */
export function readManagedFields(raw: unknown): DecodedEntry[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const entries: DecodedEntry[] = [];
  for (const item of raw) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
    const e = item as Record<string, unknown>;
    const strings: Record<string, string> = {};
    for (const name of STRING_FIELDS) {
      const v = e[name];
      if (v !== undefined && v !== null && typeof v !== 'string') return undefined;
      strings[name] = v ?? '';
    }
    let time: string | undefined;
    if (e.time !== undefined && e.time !== null) {
      if (typeof e.time !== 'string') return undefined;
      time = parseTime(e.time);
      if (time === undefined) return undefined;
    }
    entries.push({
      manager: strings.manager!,
      operation: strings.operation!,
      apiVersion: strings.apiVersion!,
      time,
      fieldsType: strings.fieldsType!,
      fieldsV1: e.fieldsV1 ?? undefined,
      subresource: strings.subresource!,
    });
  }
  return entries;
}

/** `[]`, or a single entry with nothing in it: the client asks to forget all ownership (isResetManagedFields). */
export function isResetManagedFields(entries: readonly DecodedEntry[] | undefined): boolean {
  if (!entries) return false;
  if (entries.length === 0) return true;
  const [e] = entries;
  return (
    entries.length === 1 &&
    e!.time === undefined &&
    e!.fieldsV1 === undefined &&
    STRING_FIELDS.every((name) => e![name] === '')
  );
}

/** DecodeManagedFields; throws an Error worded as upstream for entries it cannot use. */
export function decodeManagedFields(entries: readonly DecodedEntry[]): Managed {
  const fields = new Map<string, VersionedSet>();
  const times = new Map<string, string | undefined>();
  entries.forEach((e, i) => {
    if (e.operation !== 'Apply' && e.operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
    if (e.apiVersion === '') throw new Error('apiVersion must not be empty');
    if (e.fieldsType === '') throw new Error(`missing fieldsType in managed fields entry ${i}`);
    if (e.fieldsType !== 'FieldsV1') throw new Error(`invalid fieldsType ${goQuote(e.fieldsType)} in managed fields entry ${i}`);
    const id = managerIdentifier({ manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, subresource: e.subresource });
    let set;
    try {
      set = fromFieldsV1(e.fieldsV1 ?? {});
    } catch (err) {
      throw new Error(`error decoding versioned set from ${JSON.stringify(e)}: error decoding set: ${(err as Error).message}`);
    }
    fields.set(id, { set, apiVersion: e.apiVersion, applied: e.operation === 'Apply' });
    times.set(id, e.time);
  });
  return { fields, times };
}

/** The wire entries, sorted as upstream sorts them; undefined when no manager owns anything (the field is dropped). */
export function encodeManagedFields(managed: Managed): ManagedFieldsEntry[] | undefined {
  if (managed.fields.size === 0) return undefined;
  const entries = [...managed.fields].map(([id, vs]) => {
    const info = parseIdentifier(id) ?? {};
    // Field order and omitted empty fields as encoding/json writes a ManagedFieldsEntry.
    const entry: Record<string, unknown> = {};
    if (info.manager) entry.manager = info.manager;
    const operation = vs.applied ? 'Apply' : info.operation;
    if (operation) entry.operation = operation;
    if (vs.apiVersion) entry.apiVersion = vs.apiVersion;
    const time = managed.times.get(id);
    if (time) entry.time = time;
    entry.fieldsType = 'FieldsV1';
    entry.fieldsV1 = toFieldsV1(vs.set);
    if (info.subresource) entry.subresource = info.subresource;
    return entry as unknown as ManagedFieldsEntry;
  });
  return entries.sort(compareEntries);
}

const seconds = (time: string | undefined) => (time ? Math.floor(Date.parse(time) / 1000) : 0);

function compareEntries(p: ManagedFieldsEntry, q: ManagedFieldsEntry): number {
  return (
    compareStrings(p.operation ?? '', q.operation ?? '') ||
    Math.sign(seconds(p.time) - seconds(q.time)) ||
    compareStrings(p.manager ?? '', q.manager ?? '') ||
    compareStrings(p.apiVersion ?? '', q.apiVersion ?? '') ||
    compareStrings(p.subresource ?? '', q.subresource ?? '')
  );
}

/** MaxSubresourceNameLength. */
const MAX_SUBRESOURCE_NAME_LENGTH = 256;

/**
 * ValidateManagedFields, part of ObjectMeta validation: what the Go server rejects with 422 in a stored object's
 * entries. Entries the field manager cannot decode never get this far (they are replaced by the live ones).
 */
export function validateManagedFields(entries: readonly ManagedFieldsEntry[], path = 'metadata.managedFields'): FieldError[] {
  const errors: FieldError[] = [];
  entries.forEach((e, i) => {
    const at = `${path}[${i}]`;
    const operation: string = e.operation ?? '';
    if (operation === '') {
      errors.push({ type: 'FieldValueRequired', field: `${at}.operation`, message: 'Required value: must not be empty' });
    } else if (operation !== 'Apply' && operation !== 'Update') {
      errors.push({
        type: 'FieldValueNotSupported',
        field: `${at}.operation`,
        message: `Unsupported value: ${goJSON(operation)}: supported values: "Apply", "Update"`,
      });
    }
    const fieldsType: string = e.fieldsType ?? '';
    if (fieldsType !== '' && fieldsType !== 'FieldsV1') {
      errors.push({ type: 'FieldValueInvalid', field: `${at}.fieldsType`, message: `Invalid value: ${goQuote(fieldsType)}: must be \`FieldsV1\`` });
    }
    errors.push(...validateFieldManager(e.manager ?? '', `${at}.manager`));
    if (utf8Length(e.subresource ?? '') > MAX_SUBRESOURCE_NAME_LENGTH) {
      errors.push({ type: 'FieldValueTooLong', field: `${at}.subresource`, message: `Too long: may not be more than ${MAX_SUBRESOURCE_NAME_LENGTH} bytes` });
    }
  });
  return errors;
}
