// The Kubernetes authorizer library for CEL (k8s.io/apiserver/pkg/cel/library/authz.go): expressions ask whether the
// requesting user, or a service account, may do something, e.g.
// `authorizer.group('').resource('secrets').namespace(object.metadata.namespace).check('get').allowed()`.
// Checks go to the cluster's authorizer (SubjectAccessReviews, cached); `check` is asynchronous, which makes the
// expression's evaluation asynchronous too.
import type { Environment } from '@marcbachmann/cel-js';
import type { UserInfo } from '../../server/authentication.ts';
import type { AdmissionAttributes } from '../interface.ts';
import type { Authorizer, RequestAttributes } from '../../server/authorization.ts';

export class Decision {
  readonly isAllowed: boolean;
  readonly why: string;
  readonly failure: string;
  constructor(isAllowed: boolean, why: string, failure = '') {
    this.isAllowed = isAllowed;
    this.why = why;
    this.failure = failure;
  }
}

/** The user the checks are for, and what to ask (upstream's authorizerVal). */
export class CELAuthorizer {
  readonly user: UserInfo;
  readonly authorizer: Authorizer | undefined;
  /** `authorizer.requestResource`: a check on the resource of the request being admitted. */
  readonly requestResource: ResourceCheck | undefined;
  constructor(user: UserInfo, authorizer: Authorizer | undefined, request?: { group: string; resource: string; subresource: string; namespace: string; name: string }) {
    this.user = user;
    this.authorizer = authorizer;
    this.requestResource = request ? new ResourceCheck(this, request.group, request.resource, request.subresource, request.namespace, request.name) : undefined;
  }
}

export class GroupCheck {
  readonly by: CELAuthorizer;
  readonly group: string;
  constructor(by: CELAuthorizer, group: string) {
    this.by = by;
    this.group = group;
  }
}

export class ResourceCheck {
  readonly by: CELAuthorizer;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
  constructor(by: CELAuthorizer, group: string, resource: string, subresource = '', namespace = '', name = '') {
    this.by = by;
    this.group = group;
    this.resource = resource;
    this.subresource = subresource;
    this.namespace = namespace;
    this.name = name;
  }
  with(change: Partial<Pick<ResourceCheck, 'subresource' | 'namespace' | 'name'>>): ResourceCheck {
    const next = { subresource: this.subresource, namespace: this.namespace, name: this.name, ...change };
    return new ResourceCheck(this.by, this.group, this.resource, next.subresource, next.namespace, next.name);
  }
}

export class PathCheck {
  readonly by: CELAuthorizer;
  readonly path: string;
  constructor(by: CELAuthorizer, path: string) {
    this.by = by;
    this.path = path;
  }
}

async function decide(by: CELAuthorizer, attrs: Omit<RequestAttributes, 'user'>): Promise<Decision> {
  if (!by.authorizer) return new Decision(false, '', 'no authorizer is configured');
  try {
    const decision = await by.authorizer.authorize({ ...attrs, user: by.user });
    return new Decision(decision.allowed, decision.reason ?? '');
  } catch (error) {
    return new Decision(false, '', error instanceof Error ? error.message : String(error));
  }
}

function serviceAccount(by: CELAuthorizer, namespace: string, name: string): CELAuthorizer {
  const user = {
    name: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    extra: {},
  };
  return new CELAuthorizer(user, by.authorizer);
}

export function registerAuthorizerLibrary(env: Environment): Environment {
  return env
    .registerType('Authorizer', CELAuthorizer)
    .registerType('GroupCheck', GroupCheck)
    .registerType('ResourceCheck', ResourceCheck)
    .registerType('PathCheck', PathCheck)
    .registerType('Decision', Decision)
    .registerFunction('Authorizer.group(string): GroupCheck', (a: CELAuthorizer, group: string) => new GroupCheck(a, group))
    .registerFunction('Authorizer.path(string): PathCheck', (a: CELAuthorizer, path: string) => new PathCheck(a, path))
    .registerFunction('Authorizer.serviceAccount(string, string): Authorizer', serviceAccount)
    .registerFunction('GroupCheck.resource(string): ResourceCheck', (g: GroupCheck, resource: string) => new ResourceCheck(g.by, g.group, resource))
    .registerFunction('ResourceCheck.subresource(string): ResourceCheck', (r: ResourceCheck, subresource: string) => r.with({ subresource }))
    .registerFunction('ResourceCheck.namespace(string): ResourceCheck', (r: ResourceCheck, namespace: string) => r.with({ namespace }))
    .registerFunction('ResourceCheck.name(string): ResourceCheck', (r: ResourceCheck, name: string) => r.with({ name }))
    .registerFunction('ResourceCheck.check(string): Decision', (r: ResourceCheck, verb: string) =>
      decide(r.by, {
        verb,
        resourceRequest: true,
        path: '',
        apiGroup: r.group,
        apiVersion: '*',
        resource: r.resource,
        subresource: r.subresource,
        namespace: r.namespace,
        name: r.name,
      }),
    )
    .registerFunction('PathCheck.check(string): Decision', (p: PathCheck, verb: string) =>
      decide(p.by, { verb, resourceRequest: false, path: p.path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' }),
    )
    .registerFunction('Decision.allowed(): bool', (d: Decision) => d.isAllowed)
    .registerFunction('Decision.reason(): string', (d: Decision) => d.why)
    .registerFunction('Decision.errored(): bool', (d: Decision) => d.failure !== '')
    .registerFunction('Decision.error(): string', (d: Decision) => d.failure);
}

/** The `authorizer` variable for a request: checks for its user, `requestResource` for what it writes. */
export function authorizerFor(a: AdmissionAttributes, authorizer: Authorizer | undefined): CELAuthorizer {
  const { group, resource } = a.resource;
  return new CELAuthorizer(a.userInfo, authorizer, { group, resource, subresource: a.subresource, namespace: a.namespace, name: a.name });
}
