// Query options of every verb, decoded and validated as k8s.io/apiserver's handlers do. A value that cannot be
// decoded (a non-integer limit) is 400 BadRequest. The whole-options checks of list and delete answer 422 Invalid on
// the options kind (`ListOptions.meta.k8s.io "" is invalid: …`) exactly as kube-apiserver does; the single write
// parameters (dryRun, fieldManager, fieldValidation) answer 400 with the same field error as cause, since their
// parsers do not know which options kind (Create/Update/Patch) they belong to.
import { badRequest, invalid } from '../api/errors.ts';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired, fieldTooLong } from '../api/field.ts';
import type { FieldError } from '../api/meta.ts';
import { byteLength } from './validation.ts';

const META_GROUP = 'meta.k8s.io';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';
export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';
export type ResourceVersionMatch = '' | 'Exact' | 'NotOlderThan';

export interface DeleteOptions {
  dryRun: boolean;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: PropagationPolicy;
  /** Deprecated in favour of propagationPolicy, still sent by old clients. */
  orphanDependents?: boolean;
}

/** Where a paginated list resumes: the list's revision and the storage key to start after. */
export interface ContinueToken {
  rv: number;
  start: string;
}

export interface ListOptions {
  /** Raw selectors; parse them with parseLabelSelector / parseFieldSelector. */
  labelSelector: string;
  fieldSelector: string;
  watch: boolean;
  allowWatchBookmarks: boolean;
  /** As sent: "" (most recent), "0" (any) or a revision (already checked to be one). */
  resourceVersion: string;
  resourceVersionMatch: ResourceVersionMatch;
  /** Only for watches (with resourceVersionMatch=NotOlderThan); undefined when not sent. */
  sendInitialEvents: boolean | undefined;
  /** 0 means no limit (upstream ignores non-positive limits). */
  limit: number;
  /** The raw `continue` token of a list; decode it with decodeContinue. */
  continue: string;
  timeoutSeconds: number | undefined;
}

// Query booleans as apimachinery converts them: present means true unless "0" or "false" (any case).
function queryBool(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  return !(value === '0' || value.toLowerCase() === 'false');
}

// strconv.ParseInt(s, 10, 64), with its error text, as the query decoder reports it.
function queryInt(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!/^[+-]?[0-9]+$/.test(value)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(value)}: value out of range`);
  return n;
}

function parameterError(error: FieldError): never {
  throw badRequest(`${error.field}: ${error.message}`, [{ reason: error.type, message: error.message, field: error.field }]);
}

const FIELD_MANAGER_MAX_LENGTH = 128;
// unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** A fieldManager (also a managedFields entry's manager): at most 128 bytes, printable characters only. */
export function validateFieldManager(fieldManager: string, field: string): FieldError[] {
  const errors: FieldError[] = [];
  if (byteLength(fieldManager) > FIELD_MANAGER_MAX_LENGTH) errors.push(fieldTooLong(field, FIELD_MANAGER_MAX_LENGTH));
  let position = 0;
  for (const ch of fieldManager) {
    if (!PRINTABLE.test(ch)) {
      const code = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      errors.push(fieldInvalid(field, fieldManager, `invalid character U+${code} (at position ${position})`));
    }
    position += byteLength(ch);
  }
  return errors;
}

/**
 * The `fieldManager` parameter: undefined when not sent (the caller derives one from the User-Agent), required for
 * server-side apply.
 */
export function parseFieldManager(value: string | null, isApply: boolean): string | undefined {
  if (!value) {
    if (isApply) parameterError(fieldRequired('fieldManager', 'is required for apply patch'));
    return undefined;
  }
  const [error] = validateFieldManager(value, 'fieldManager');
  if (error) parameterError(error);
  return value;
}

function validateDryRun(values: readonly string[]): FieldError[] {
  return values.every((v) => v === 'All') ? [] : [fieldNotSupported('dryRun', values, ['All'])];
}

/** The `dryRun` parameter values: true for `All`, false when absent; any other value is rejected. */
export function parseDryRun(values: readonly string[]): boolean {
  const [error] = validateDryRun(values);
  if (error) parameterError(error);
  return values.length > 0;
}

/** The `fieldValidation` parameter; `Warn` (the server default) when absent or empty. */
export function parseFieldValidation(value: string | null): FieldValidation {
  if (value === null || value === '') return 'Warn';
  if (value === 'Ignore' || value === 'Warn' || value === 'Strict') return value;
  return parameterError(fieldNotSupported('fieldValidation', value, ['', 'Ignore', 'Strict', 'Warn']));
}

const DELETE_OPTIONS_VERSIONS = ['v1', 'meta.k8s.io/v1', 'meta.k8s.io/v1beta1'];
const PROPAGATION_POLICIES: readonly string[] = ['Foreground', 'Background', 'Orphan'];

function decodeError(field: string, expected: string): never {
  throw badRequest(`unable to decode DeleteOptions: ${field} must be ${expected}`);
}

function optional<T>(body: Record<string, unknown>, field: string, is: (v: unknown) => v is T, expected: string): T | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  return is(value) ? value : decodeError(field, expected);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface RawDeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
  orphanDependents?: boolean;
  dryRun: string[];
}

function decodeDeleteBody(body: unknown): RawDeleteOptions {
  if (!isObject(body)) throw badRequest('the body of a delete request must be a DeleteOptions object');
  const kind = optional(body, 'kind', isString, 'a string') ?? 'DeleteOptions';
  const apiVersion = optional(body, 'apiVersion', isString, 'a string') ?? 'meta.k8s.io/v1';
  if (kind !== 'DeleteOptions' || !DELETE_OPTIONS_VERSIONS.includes(apiVersion))
    throw badRequest(`no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)}; expected DeleteOptions`);
  const preconditions = optional(body, 'preconditions', isObject, 'an object');
  const raw: RawDeleteOptions = { dryRun: optional(body, 'dryRun', isStringArray, 'an array of strings') ?? [] };
  const gracePeriodSeconds = optional(body, 'gracePeriodSeconds', isInteger, 'an integer');
  if (gracePeriodSeconds !== undefined) raw.gracePeriodSeconds = gracePeriodSeconds;
  const propagationPolicy = optional(body, 'propagationPolicy', isString, 'a string');
  if (propagationPolicy !== undefined) raw.propagationPolicy = propagationPolicy;
  const orphanDependents = optional(body, 'orphanDependents', isBoolean, 'a boolean');
  if (orphanDependents !== undefined) raw.orphanDependents = orphanDependents;
  if (preconditions) {
    raw.preconditions = {};
    const uid = optional(preconditions, 'uid', isString, 'a string');
    if (uid !== undefined) raw.preconditions.uid = uid;
    const resourceVersion = optional(preconditions, 'resourceVersion', isString, 'a string');
    if (resourceVersion !== undefined) raw.preconditions.resourceVersion = resourceVersion;
  }
  return raw;
}

function decodeDeleteQuery(query: URLSearchParams): RawDeleteOptions {
  const raw: RawDeleteOptions = { dryRun: query.getAll('dryRun') };
  const gracePeriodSeconds = queryInt(query, 'gracePeriodSeconds');
  if (gracePeriodSeconds !== undefined) raw.gracePeriodSeconds = gracePeriodSeconds;
  const propagationPolicy = query.get('propagationPolicy');
  if (propagationPolicy !== null) raw.propagationPolicy = propagationPolicy;
  const orphanDependents = queryBool(query, 'orphanDependents');
  if (orphanDependents !== undefined) raw.orphanDependents = orphanDependents;
  return raw;
}

/**
 * DeleteOptions of a DELETE (item or collection): from the JSON body when there is one (`undefined` for an empty
 * body), from the query string otherwise — never merged, as upstream.
 */
export function parseDeleteOptions(body: unknown, query: URLSearchParams): DeleteOptions {
  const raw = body === undefined ? decodeDeleteQuery(query) : decodeDeleteBody(body);
  const errors: FieldError[] = [];
  if (raw.orphanDependents !== undefined && raw.propagationPolicy !== undefined)
    errors.push(fieldInvalid('propagationPolicy', raw.propagationPolicy, 'orphanDependents and deletionPropagation cannot be both set'));
  if (raw.propagationPolicy !== undefined && !PROPAGATION_POLICIES.includes(raw.propagationPolicy))
    errors.push(fieldNotSupported('propagationPolicy', raw.propagationPolicy, [...PROPAGATION_POLICIES, 'nil']));
  errors.push(...validateDryRun(raw.dryRun));
  if (errors.length > 0) throw invalid('DeleteOptions', META_GROUP, '', errors);
  const { dryRun, ...rest } = raw;
  // The checks above leave only the three known propagation policies.
  return { ...(rest as Omit<DeleteOptions, 'dryRun'>), dryRun: dryRun.length > 0 };
}

/**
 * A resourceVersion as the store's revision: 0 for "" and "0", else an unsigned integer (400 otherwise, with the
 * message of upstream's etcd3 versioner).
 */
export function parseResourceVersion(resourceVersion: string): number {
  if (resourceVersion === '' || resourceVersion === '0') return 0;
  const reason = !/^[0-9]+$/.test(resourceVersion) ? 'invalid syntax' : !Number.isSafeInteger(Number(resourceVersion)) ? 'value out of range' : '';
  if (reason)
    throw badRequest(
      `invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(resourceVersion)}: strconv.ParseUint: parsing ${JSON.stringify(resourceVersion)}: ${reason}`,
    );
  return Number(resourceVersion);
}

// ValidateListOptions with the WatchList feature on (the default in current Kubernetes).
function validateListOptions(o: ListOptions): FieldError[] {
  const errors: FieldError[] = [];
  const match = o.resourceVersionMatch;
  if (o.watch) {
    if (o.sendInitialEvents !== undefined && match !== 'NotOlderThan')
      errors.push(fieldForbidden('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
    if (match !== '') {
      if (o.sendInitialEvents === undefined)
        errors.push(fieldForbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
      if (match !== 'NotOlderThan') errors.push(fieldNotSupported('resourceVersionMatch', match, ['NotOlderThan']));
      if (o.continue) errors.push(fieldForbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    }
    return errors;
  }
  if (match !== '') {
    if (o.resourceVersion === '') errors.push(fieldForbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (o.continue) errors.push(fieldForbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan') errors.push(fieldNotSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan', '']));
    if (match === 'Exact' && o.resourceVersion === '0')
      errors.push(fieldForbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (o.sendInitialEvents !== undefined) errors.push(fieldForbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list'));
  return errors;
}

/** The options of a LIST or WATCH (GET on a collection), decoded and validated. */
export function parseListOptions(query: URLSearchParams): ListOptions {
  const options: ListOptions = {
    labelSelector: query.get('labelSelector') ?? '',
    fieldSelector: query.get('fieldSelector') ?? '',
    watch: queryBool(query, 'watch') ?? false,
    allowWatchBookmarks: queryBool(query, 'allowWatchBookmarks') ?? false,
    resourceVersion: query.get('resourceVersion') ?? '',
    resourceVersionMatch: (query.get('resourceVersionMatch') ?? '') as ResourceVersionMatch,
    sendInitialEvents: queryBool(query, 'sendInitialEvents'),
    limit: Math.max(0, queryInt(query, 'limit') ?? 0),
    continue: query.get('continue') ?? '',
    timeoutSeconds: queryInt(query, 'timeoutSeconds'),
  };
  const errors = validateListOptions(options);
  if (errors.length > 0) throw invalid('ListOptions', META_GROUP, '', errors);
  const { resourceVersion } = options;
  // A continue token carries its own revision (upstream checks this where it decodes the token).
  if (!options.watch && options.continue) {
    if (resourceVersion !== '' && resourceVersion !== '0') throw badRequest('specifying resource version is not allowed when using continue');
  } else {
    parseResourceVersion(resourceVersion);
  }
  return options;
}

const CONTINUE_VERSION = 'meta.k8s.io/v1';

/** The `metadata.continue` of a list page, in upstream's format (base64url of `{"v","rv","start"}`). */
export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: CONTINUE_VERSION, rv: token.rv, start: token.start })).toString('base64url');
}

function invalidContinue(reason: string): never {
  throw badRequest(`invalid continue token: continue key is not valid${reason}`);
}

/**
 * Decodes a `continue` query value; anything malformed is a 400. `rv` is never 0 (a negative rv, as upstream, means
 * "continue at the newest revision"), and `start` cannot climb out of the listed prefix with "..".
 */
export function decodeContinue(value: string): ContinueToken {
  // Buffer's decoder skips characters it does not know; Go's RawURLEncoding rejects them, and so do we.
  if (!/^[A-Za-z0-9_-]*$/.test(value) || value.length % 4 === 1) invalidContinue(': illegal base64 data');
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch (err) {
    invalidContinue(`: ${(err as Error).message}`);
  }
  if (!isObject(token)) invalidContinue(': not a JSON object');
  if (token.v !== CONTINUE_VERSION) invalidContinue(`: server does not recognize this encoded version ${String(token.v)}`);
  if (!Number.isSafeInteger(token.rv) || token.rv === 0) invalidContinue(': incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  if (typeof token.start !== 'string' || token.start === '') invalidContinue(': encoded start key empty (version meta.k8s.io/v1)');
  const { rv, start } = token as { rv: number; start: string };
  if (!isCleanPath(start.startsWith('/') ? start : `/${start}`)) invalidContinue(`: ${start}`);
  return { rv, start };
}

// Go's path.Clean(key) === key: no empty, "." or ".." segments and no trailing slash (the root aside).
function isCleanPath(key: string): boolean {
  if (key === '/') return true;
  return key
    .slice(1)
    .split('/')
    .every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}
