// The request pipeline, as a short chain of named middleware:
// status errors → health (unauthenticated) → authentication → request info → authorization → readiness → handler.
import { createHash, randomUUID } from 'node:crypto';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from 'pino';
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, discoveryETag } from '../api/discovery.ts';
import { StatusError, forbidden, internalError, methodNotSupported, pathNotFound, serviceUnavailable, unauthorized } from '../api/errors.ts';
import { GROUP, VERSION } from '../api/meta.ts';
import { openAPIV2, openAPIV3, openAPIV3Root } from '../api/openapi.ts';
import type { Registry } from '../registry/registry.ts';
import type { WatchSettings } from '../registry/watch.ts';
import type { Authenticator, UserInfo } from './authentication.ts';
import { forbiddenMessage, type Authorizer, type RequestAttributes } from './authorization.ts';
import type { HealthChecks } from './health.ts';
import type { Metrics } from './metrics.ts';
import { parseMediaRanges } from './negotiation.ts';
import { parseRequestInfo, type RequestInfo } from './requestinfo.ts';
import { handleResource } from './resources.ts';
import { coreAggregatedDiscovery, coreAPIVersions, coreResourceList, implicitNamespace } from './standalone.ts';

export interface AppDeps {
  registry: Registry;
  authenticator: Authenticator;
  authorizer: Authorizer;
  health: HealthChecks;
  metrics: Metrics;
  logger: Logger;
  watch: WatchSettings;
  /** False until storage is loaded: resource requests get 503 rather than a false 404. */
  isReady: () => boolean;
  /** No cluster behind us: every namespace exists implicitly. */
  standalone: boolean;
  version: { gitVersion: string };
}

interface State {
  user?: UserInfo;
  requestInfo?: RequestInfo;
}

const HEALTH_PATH = /^\/(healthz|livez|readyz)(\/[^/]+)?\/?$/;
/** The methods of the Kubernetes API; OPTIONS, TRACE, WebDAV's and the like get 405, as from kube-apiserver. */
const SERVED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const DISCOVERY_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Serialized once: discovery and OpenAPI documents only change with the code. */
interface Document {
  body: string;
  etag: string;
}

function document(value: unknown): Document {
  const body = JSON.stringify(value);
  return { body, etag: `"${createHash('sha512').update(body).digest('hex').slice(0, 32).toUpperCase()}"` };
}

export function createApp(deps: AppDeps): Koa<State> {
  const app = new Koa<State>();
  const v3 = document(openAPIV3());
  const v3Hash = createHash('sha512').update(v3.body).digest('hex').toUpperCase();
  const docs = {
    groupList: document(apiGroupList()),
    group: document(apiGroup()),
    resourceList: document(apiResourceList()),
    aggregated: (() => {
      const value = aggregatedDiscovery();
      return { body: JSON.stringify(value), etag: discoveryETag(value) };
    })(),
    coreAggregated: document(coreAggregatedDiscovery(deps.standalone)),
    coreVersions: document(coreAPIVersions(deps.standalone)),
    coreResources: document(coreResourceList),
    v2: document(openAPIV2()),
    v3,
    v3Root: document(openAPIV3Root(v3Hash)),
  };

  app.on('error', (err: NodeJS.ErrnoException) => {
    // A watcher that disconnects mid-stream is normal, not an error.
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE' || err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    deps.logger.error({ err }, 'request failed after the response started');
  });

  app.use(async function statusErrors(ctx: Context, next: Next) {
    const started = process.hrtime.bigint();
    const auditID = ctx.get('Audit-ID') || randomUUID();
    ctx.set('Audit-ID', auditID);
    const isWatch = ctx.method === 'GET' && (ctx.query['watch'] === 'true' || ctx.query['watch'] === '1');
    const inflightDone = isWatch ? undefined : deps.metrics.requestStarted(ctx.method === 'GET' || ctx.method === 'HEAD' ? 'readOnly' : 'mutating');
    try {
      await next();
    } catch (err) {
      const status = err instanceof StatusError ? err : internalError('an unexpected error occurred');
      if (!(err instanceof StatusError)) deps.logger.error({ err, auditID, path: ctx.path }, 'internal error');
      // Why a client was refused is for the operator's log, never for the client.
      else if (status.code === 401) deps.logger.info({ auditID, path: ctx.path, reason: reasonOf((err as Error).cause) }, 'unauthenticated request');
      if (ctx.respond === false && ctx.res.headersSent) {
        ctx.res.end();
      } else {
        ctx.respond = true;
        ctx.status = status.code;
        ctx.type = 'application/json';
        for (const [h, v] of Object.entries(status.headers)) ctx.set(h, v);
        if (status.code === 401) ctx.set('WWW-Authenticate', 'Basic realm="kubernetes-master"');
        ctx.body = JSON.stringify(status.toStatus());
      }
    } finally {
      inflightDone?.();
      observe(ctx, deps.metrics, started);
    }
  });

  app.use(async function healthEndpoints(ctx: Context, next: Next) {
    const match = HEALTH_PATH.exec(ctx.path);
    if (!match || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const result = await deps.health.serve(ctx.path, new URLSearchParams(ctx.querystring));
    if (!result) return next();
    ctx.status = result.status;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = result.body;
  });

  app.use(async function authentication(ctx: Context, next: Next) {
    const user = await deps.authenticator.authenticate(ctx.req);
    if (!user) throw unauthorized();
    ctx.state.user = user;
    return next();
  });

  app.use(async function requestInfo(ctx: Context, next: Next) {
    ctx.state.requestInfo = parseRequestInfo(ctx.method, ctx.path, new URLSearchParams(ctx.querystring));
    return next();
  });

  app.use(async function authorization(ctx: Context, next: Next) {
    const info = ctx.state.requestInfo as RequestInfo;
    const attrs: RequestAttributes = info.isResourceRequest
      ? {
          user: ctx.state.user,
          verb: info.verb,
          resourceRequest: true,
          path: info.path,
          apiGroup: info.apiGroup,
          apiVersion: info.apiVersion,
          resource: info.resource,
          subresource: info.subresource,
          namespace: info.namespace ?? '',
          name: info.name,
        }
      : { user: ctx.state.user, verb: info.verb, resourceRequest: false, path: info.path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
    const decision = await deps.authorizer.authorize(attrs);
    if (!decision.allowed) {
      throw forbidden(
        info.isResourceRequest ? { group: info.apiGroup, resource: info.resource } : undefined,
        info.isResourceRequest ? info.name : '',
        forbiddenMessage(attrs, decision.reason),
      );
    }
    return next();
  });

  app.use(async function handler(ctx: Context) {
    const info = ctx.state.requestInfo as RequestInfo;
    if (info.isResourceRequest) {
      if (!deps.isReady()) throw serviceUnavailable('the server is starting and its storage is not loaded yet');
      return handleResource(ctx, info, { registry: deps.registry, group: GROUP, version: VERSION, watch: deps.watch, metrics: deps.metrics });
    }
    if (!SERVED_METHODS.has(ctx.method)) throw methodNotSupported();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw pathNotFound(ctx.path);
    const path = ctx.path.replace(/\/+$/, '') || '/';
    switch (path) {
      case '/apis':
        if (wantsAggregated(ctx)) return serveDocument(ctx, docs.aggregated, DISCOVERY_V2, true);
        return serveDocument(ctx, docs.groupList, 'application/json');
      case '/api':
        if (wantsAggregated(ctx)) return serveDocument(ctx, docs.coreAggregated, DISCOVERY_V2, true);
        return serveDocument(ctx, docs.coreVersions, 'application/json');
      case `/apis/${GROUP}`:
        return serveDocument(ctx, docs.group, 'application/json');
      case `/apis/${GROUP}/${VERSION}`:
        return serveDocument(ctx, docs.resourceList, 'application/json');
      case '/openapi/v2':
        // kubectl's client-side validation asks only for gnostic protobuf. We publish the document as JSON; the
        // protobuf answer is an empty Document, which makes kubectl leave validation to the server (Strict field
        // validation) instead of failing to decode JSON as protobuf.
        if (wantsOnlyProtobufOpenAPI(ctx)) {
          // The answer names the type with '.' for '@', as kube-openapi does: Go's mime parser refuses '@'.
          ctx.type = OPENAPI_V2_PROTOBUF.replace('@', '.');
          ctx.body = Buffer.alloc(0);
          return;
        }
        return serveDocument(ctx, docs.v2, 'application/json', true);
      case '/openapi/v3':
        return serveDocument(ctx, docs.v3Root, 'application/json', true);
      case `/openapi/v3/apis/${GROUP}/${VERSION}`:
        // A stale ?hash= still gets the current document: the aggregator rejects redirects.
        return serveDocument(ctx, docs.v3, 'application/json', true);
      case '/version':
        return serveDocument(ctx, document(versionInfo(deps.version.gitVersion)), 'application/json');
      case '/metrics':
        ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
        ctx.body = await deps.metrics.render();
        return;
      default: {
        if (deps.standalone) {
          if (path === '/api/v1') return serveDocument(ctx, docs.coreResources, 'application/json');
          const namespace = implicitNamespace(path);
          if (namespace) return serveDocument(ctx, document(namespace), 'application/json');
        }
        throw pathNotFound(ctx.path);
      }
    }
  });
  return app;
}

function reasonOf(cause: unknown): string | undefined {
  if (cause instanceof AggregateError) return cause.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  return cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause);
}

const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

function wantsOnlyProtobufOpenAPI(ctx: Context): boolean {
  const ranges = parseMediaRanges(ctx.get('Accept'));
  return ranges.length > 0 && ranges.every((r) => r.type === OPENAPI_V2_PROTOBUF);
}


function wantsAggregated(ctx: Context): boolean {
  return parseMediaRanges(ctx.get('Accept')).some(
    (r) => r.type === 'application/json' && r.params['g'] === 'apidiscovery.k8s.io' && r.params['v'] === 'v2' && r.params['as'] === 'APIGroupDiscoveryList',
  );
}

function serveDocument(ctx: Context, doc: Document, contentType: string, withETag = false): void {
  if (withETag) {
    ctx.set('ETag', doc.etag);
    ctx.set('Vary', 'Accept');
    ctx.set('Cache-Control', 'public');
    if (ctx.get('If-None-Match') === doc.etag) {
      ctx.status = 304;
      return;
    }
  }
  ctx.status = 200;
  ctx.type = contentType;
  ctx.body = doc.body;
}

function versionInfo(gitVersion: string) {
  const [major = '0', minor = '0'] = gitVersion.replace(/^v/, '').split('.');
  return {
    major,
    minor,
    gitVersion,
    gitCommit: '',
    gitTreeState: '',
    buildDate: '',
    goVersion: '',
    compiler: 'node',
    platform: `${process.platform}/${process.arch}`,
  };
}

function observe(ctx: Context, metrics: Metrics, started: bigint): void {
  const info = ctx.state.requestInfo as RequestInfo | undefined;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const resource = info?.isResourceRequest ? info : undefined;
  metrics.observeRequest({
    verb: resource ? resource.verb.toUpperCase() : ctx.method,
    dryRun: ctx.query['dryRun'] ? 'All' : '',
    group: resource?.apiGroup ?? '',
    version: resource?.apiVersion ?? '',
    resource: resource?.resource ?? '',
    subresource: resource?.subresource ?? '',
    scope: !resource ? '' : resource.name ? 'resource' : resource.namespace ? 'namespace' : 'cluster',
    code: ctx.status,
    seconds,
    // The Content-Length Koa set with the body: measuring a string again would cost as much as encoding it.
    bytes: ctx.length ?? 0,
  });
}
