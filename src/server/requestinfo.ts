// Parses a request's path and method once into the attributes every later stage uses (as k8s.io/apiserver's
// RequestInfoFactory): authorization, routing, metrics and audit all read the same RequestInfo.

import { badRequest } from '../api/errors.ts';
import { parseFieldSelector, requiredName } from '../registry/fields.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface ResourceRequestInfo {
  isResourceRequest: true;
  path: string;
  verb: Verb;
  apiGroup: string;
  apiVersion: string;
  /** Absent for an all-namespaces request. */
  namespace: string | undefined;
  resource: string;
  subresource: string;
  name: string;
}

export interface NonResourceRequestInfo {
  isResourceRequest: false;
  path: string;
  /** The lower-case HTTP method, as non-resource SubjectAccessReviews carry it. */
  verb: string;
}

export type RequestInfo = ResourceRequestInfo | NonResourceRequestInfo;

const METHOD_VERBS: Record<string, Verb> = { POST: 'create', PUT: 'update', PATCH: 'patch' };

/**
 * `/apis/<group>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]`; anything else (discovery,
 * OpenAPI, health) is a non-resource request. `fieldSelector=metadata.name=x` names the object of a list or watch so
 * RBAC `resourceNames` can apply, as upstream does.
 */
export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const parts = path.split('/').filter((p) => p !== '');
  const nonResource: NonResourceRequestInfo = { isResourceRequest: false, path, verb: method.toLowerCase() };
  if (parts[0] !== 'apis' || parts.length < 4) return nonResource;
  const [, apiGroup, apiVersion, ...rest] = parts.map(decodeSegment) as [string, string, string, ...string[]];
  let namespace: string | undefined;
  // `namespaces/<ns>` is a namespace scope only when something follows; `namespaces` alone would be a resource.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest.splice(0, 2);
  }
  const [resource = '', name = '', subresource = '', ...extra] = rest;
  if (extra.length > 0) return nonResource;
  let verb: Verb;
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (name) verb = 'get';
      else verb = isTrue(query.get('watch')) ? 'watch' : 'list';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default: {
      const mapped = METHOD_VERBS[method];
      if (!mapped) return nonResource;
      verb = mapped;
    }
  }
  let objectName = name;
  if ((verb === 'list' || verb === 'watch') && !objectName) objectName = nameFromFieldSelector(query.get('fieldSelector'));
  return { isResourceRequest: true, path, verb, apiGroup, apiVersion, namespace, resource, subresource, name: objectName };
}

/** A malformed escape (`%ZZ`) is the client's error: Go's URL parser refuses it with 400 before any handler runs. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`invalid URL escape in the path segment ${JSON.stringify(segment)}`);
  }
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

function nameFromFieldSelector(selector: string | null): string {
  if (!selector) return '';
  try {
    return requiredName(parseFieldSelector(selector)) ?? '';
  } catch {
    // A malformed selector names nothing here; the handler answers it with a 400.
    return '';
  }
}
