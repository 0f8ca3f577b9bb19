// Every failure the API reports is one of these; the HTTP layer turns it into a `Status` in one place.
import type { FieldError, Status, StatusCause, StatusDetails } from './meta.ts';

export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Record<string, string>;

  constructor(code: number, reason: string, message: string, details?: StatusDetails, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.headers = headers;
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      code: this.code,
    };
    if (this.reason) status.reason = this.reason;
    if (this.details) status.details = this.details;
    return status;
  }
}

/** `databases.strongroom.dev` — how Kubernetes names a resource in messages. */
export interface QualifiedResource {
  group: string;
  resource: string;
}

function qualified(r: QualifiedResource): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

export const badRequest = (message: string, causes?: StatusCause[]) =>
  new StatusError(400, 'BadRequest', message, causes ? { causes } : undefined);

export const unauthorized = (message = 'Unauthorized') => new StatusError(401, 'Unauthorized', message);

export const forbidden = (r: QualifiedResource | undefined, name: string, message: string) =>
  new StatusError(403, 'Forbidden', message, r ? { name, group: r.group, kind: r.resource } : undefined);

export const notFound = (r: QualifiedResource, name: string) =>
  new StatusError(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, group: r.group, kind: r.resource });

export const pathNotFound = (path: string) => new StatusError(404, 'NotFound', `the server could not find the requested resource (${path})`);

export const methodNotAllowed = (verb: string, r: QualifiedResource) =>
  new StatusError(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualified(r)}"`);

/** apimachinery's generic 405, for a method the API has no verb for (OPTIONS, CONNECT, an unknown token). */
export const methodNotSupported = () => new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export const notAcceptable = (accepted: string[]) =>
  new StatusError(406, 'NotAcceptable', `only the following media types are accepted: ${accepted.join(', ')}`);

export const alreadyExists = (r: QualifiedResource, name: string) =>
  new StatusError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, { name, group: r.group, kind: r.resource });

export const conflict = (r: QualifiedResource, name: string, why: string, causes?: StatusCause[]) =>
  new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, {
    name,
    group: r.group,
    kind: r.resource,
    ...(causes ? { causes } : {}),
  });

export const OPTIMISTIC_LOCK_MESSAGE = 'the object has been modified; please apply your changes to the latest version and try again';

export const gone = (message: string) => new StatusError(410, 'Expired', message);

export const tooLarge = (message = 'the request is too large') => new StatusError(413, 'RequestEntityTooLarge', message);

export const unsupportedMediaType = (contentType: string, accepted: string[]) =>
  new StatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format${contentType ? ` (${contentType})` : ''} - accepted media types include: ${accepted.join(', ')}`,
  );

/** 422 Invalid with one cause per field error, as apimachinery's `errors.NewInvalid` (several come as `[a, b]`). */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): StatusError {
  const each = errors.map((e) => `${e.field}: ${e.message}`);
  const summary = each.length === 1 ? each[0] : `[${each.join(', ')}]`;
  const causes = errors.map((e) => ({ reason: e.type, message: e.message, field: e.field }));
  return new StatusError(422, 'Invalid', `${kind}.${group} "${name}" is invalid: ${summary}`, { name, group, kind, causes });
}

export const internalError = (message: string) => new StatusError(500, 'InternalError', `Internal error occurred: ${message}`);

export const serviceUnavailable = (message: string) => new StatusError(503, 'ServiceUnavailable', message);

export const timeout = (message: string, causes?: StatusCause[]) =>
  new StatusError(504, 'Timeout', message, causes ? { causes } : undefined);
