// May this user do this? Authorizers get the attributes k8s.io/apiserver's authorizer.Attributes carry; denials are
// worded exactly as kube-apiserver words them, since clients and people grep for those messages.
import { LRUCache } from 'lru-cache';
import type { UserInfo } from './authentication.ts';

export interface RequestAttributes {
  user: UserInfo;
  /** Kubernetes verb (`get`, `list`, `create` …) for resource requests; the lower-case HTTP method otherwise. */
  verb: string;
  resourceRequest: boolean;
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Decision {
  allowed: boolean;
  /** Appended to the Forbidden message, as a SubjectAccessReview's `status.reason` is. */
  reason?: string;
}

export interface Authorizer {
  authorize(attrs: RequestAttributes): Promise<Decision>;
}

export const SYSTEM_MASTERS = 'system:masters';

/** Without a cluster to ask, only `system:masters` (the generated admin certificate) may do anything. */
export function standaloneAuthorizer(): Authorizer {
  return {
    async authorize(attrs) {
      return { allowed: attrs.user.groups.includes(SYSTEM_MASTERS) };
    },
  };
}

/** Kubelet probes carry no credentials, so the health endpoints and their per-check paths are open to all. */
export const DEFAULT_ALWAYS_ALLOW_PATHS = ['/healthz', '/healthz/*', '/livez', '/livez/*', '/readyz', '/readyz/*'];

/**
 * Allows non-resource requests to `paths` without asking `inner`; a trailing `*` makes a prefix pattern. Same rules
 * as k8s.io/apiserver's path authorizer behind `--authorization-always-allow-paths`.
 */
export function alwaysAllowPaths(inner: Authorizer, paths: string[] = DEFAULT_ALWAYS_ALLOW_PATHS): Authorizer {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const path of paths) {
    const trimmed = path.replace(/^\//, '');
    if (trimmed.endsWith('*')) prefixes.push(trimmed.slice(0, -1));
    else exact.add(trimmed);
  }
  return {
    async authorize(attrs) {
      if (!attrs.resourceRequest) {
        const path = attrs.path.replace(/^\//, '');
        if (exact.has(path) || prefixes.some((prefix) => path.startsWith(prefix))) return { allowed: true };
      }
      return inner.authorize(attrs);
    },
  };
}

/**
 * The message of kube-apiserver's 403 (`responsewriters.Forbidden` → `errors.NewForbidden`):
 * `databases.strongroom.dev "x" is forbidden: User "u" cannot get resource "databases/status" in API group
 * "strongroom.dev" in the namespace "ns"`, or for non-resource requests `forbidden: User "u" cannot get path "/metrics"`;
 * then `: <reason>` when the authorizer gave one.
 */
export function forbiddenMessage(attrs: RequestAttributes, reason?: string): string {
  const user = quote(attrs.user.name);
  let denial: string;
  if (!attrs.resourceRequest) {
    denial = `User ${user} cannot ${attrs.verb} path ${quote(attrs.path)}`;
  } else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace ? `in the namespace ${quote(attrs.namespace)}` : 'at the cluster scope';
    denial = `User ${user} cannot ${attrs.verb} resource ${quote(resource)} in API group ${quote(attrs.apiGroup)} ${scope}`;
  }
  // Upstream escapes these three because the message may be echoed into HTML.
  const detail = denial.replace(/[&<>]/g, (c) => HTML_ESCAPES[c]!) + (reason ? `: ${reason}` : '');
  const qualified = attrs.resourceRequest ? (attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource) : '';
  if (!qualified) return `forbidden: ${detail}`;
  return attrs.name ? `${qualified} ${quote(attrs.name)} is forbidden: ${detail}` : `${qualified} is forbidden: ${detail}`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Go's `%q` for the strings that occur here (JSON string syntax, which agrees with it on printable text). */
const quote = (s: string) => JSON.stringify(s);

export interface CacheOptions {
  /** Default 10 s each, k8s.io/apiserver's delegated-authorization defaults. */
  allowTTLMs?: number;
  denyTTLMs?: number;
  /** Oldest entries are dropped beyond this. Default 8192. */
  maxEntries?: number;
  /** Milliseconds clock; tests replace it. */
  now?: () => number;
}

/**
 * Remembers decisions of `inner` (a SubjectAccessReview round trip) per identical attributes — every attribute and
 * the whole user, since any of them can change the answer. Errors are not remembered.
 */
export function cachedAuthorizer(inner: Authorizer, options: CacheOptions = {}): Authorizer {
  const { allowTTLMs = 10_000, denyTTLMs = 10_000, maxEntries = 8192, now = Date.now } = options;
  // ttlResolution 0: every lookup reads the clock, so an entry is never served past its TTL.
  const entries = new LRUCache<string, Decision>({ max: maxEntries, ttl: allowTTLMs, ttlResolution: 0, perf: { now } });
  return {
    async authorize(attrs) {
      const key = cacheKey(attrs);
      const cached = entries.get(key);
      if (cached) return cached;
      const decision = await inner.authorize(attrs);
      entries.set(key, decision, { ttl: decision.allowed ? allowTTLMs : denyTTLMs });
      return decision;
    },
  };
}

function cacheKey(attrs: RequestAttributes): string {
  const { user } = attrs;
  const extra = Object.keys(user.extra)
    .sort()
    .map((key) => [key, user.extra[key]]);
  return JSON.stringify([
    user.name,
    user.uid ?? '',
    user.groups,
    extra,
    attrs.verb,
    attrs.resourceRequest,
    attrs.path,
    attrs.apiGroup,
    attrs.apiVersion,
    attrs.resource,
    attrs.subresource,
    attrs.namespace,
    attrs.name,
  ]);
}
