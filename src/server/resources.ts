// The one HTTP handler for every resource and subresource: it maps a RequestInfo onto the generic store.
import type { Context } from 'koa';
import { badRequest, methodNotAllowed, pathNotFound } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import { managerFromUserAgent } from '../registry/fieldmanager/index.ts';
import {
  parseDeleteOptions,
  parseDryRun,
  parseFieldManager,
  parseFieldValidation,
  parseListOptions,
} from '../registry/options.ts';
import type { Registry } from '../registry/registry.ts';
import type { ResourceStore, WriteOptions, WriteResult, WriteSubresource } from '../registry/store.ts';
import { getScale, patchScale, runAction, updateScale } from '../registry/subresources.ts';
import { parseIncludeObject, type IncludeObject } from '../registry/table.ts';
import type { WatchSettings } from '../registry/watch.ts';
import type { UserInfo } from './authentication.ts';
import { decodeBody, readBody } from './body.ts';
import type { Metrics } from './metrics.ts';
import { bodyFormat, negotiateOutput, patchType, type PatchType, type Representation } from './negotiation.ts';
import { renderList, renderObject, serialize } from './render.ts';
import type { ResourceRequestInfo } from './requestinfo.ts';
import { warningHeaders } from './warnings.ts';
import { serveWatch } from './watchstream.ts';

export interface ResourceHandlerDeps {
  registry: Registry;
  group: string;
  version: string;
  watch: WatchSettings;
  metrics: Metrics;
}

export async function handleResource(ctx: Context, info: ResourceRequestInfo, deps: ResourceHandlerDeps): Promise<void> {
  if (info.apiGroup !== deps.group || info.apiVersion !== deps.version) throw pathNotFound(info.path);
  const store = deps.registry.store(info.resource);
  if (!store) throw pathNotFound(info.path);
  const { def } = store;
  // A list or watch may carry a name (from its fieldSelector, for RBAC), yet it always addresses the collection.
  const collection = info.verb === 'list' || info.verb === 'watch' || !info.name;
  if (def.namespaced && !info.namespace && !(collection && (info.verb === 'list' || info.verb === 'watch'))) {
    throw pathNotFound(info.path);
  }
  if (!def.namespaced && info.namespace) throw pathNotFound(info.path);
  const query = new URLSearchParams(ctx.querystring);
  const ns = info.namespace;

  if (collection) {
    if (info.subresource) throw pathNotFound(info.path);
    return handleCollection(ctx, info, store, query, deps);
  }
  const name = info.name;
  switch (info.subresource) {
    case '':
      return handleItem(ctx, info, store, query, ns, name);
    case 'status':
      if (!def.subresources.status) throw pathNotFound(info.path);
      return handleStatusOrItem(ctx, info, store, query, ns, name, 'status');
    case 'scale':
      if (!def.subresources.scale) throw pathNotFound(info.path);
      return handleScale(ctx, info, store, query, ns, name);
    default: {
      const action = def.subresources.actions[info.subresource];
      if (!action) throw pathNotFound(info.path);
      if (info.verb !== 'create') throw methodNotAllowed(info.verb, store.qualified);
      const target = deps.registry.store(action.creates)!;
      const output = writeOutput(ctx, query);
      const body = await objectBody(ctx);
      const result = await runAction(store, target, info.subresource, action, ns, name, body, writeOptions(ctx, query), deps.registry.lookup);
      return respondWrite(ctx, target, output, result, 201);
    }
  }
}

async function handleCollection(ctx: Context, info: ResourceRequestInfo, store: ResourceStore, query: URLSearchParams, deps: ResourceHandlerDeps) {
  const ns = info.namespace;
  switch (info.verb) {
    case 'list': {
      const options = parseListOptions(query);
      const rep = negotiateOutput(ctx.get('Accept'), 'list');
      const list = await store.list(ns, options);
      return send(ctx, 200, renderList(store.def, list, rep, parseIncludeObject(query.get('includeObject'))), rep);
    }
    case 'watch': {
      const options = parseListOptions(query);
      const rep = negotiateOutput(ctx.get('Accept'), 'item');
      ctx.respond = false;
      return serveWatch(ctx.res, store, ns, options, rep, parseIncludeObject(query.get('includeObject')), deps.watch, deps.metrics);
    }
    case 'create': {
      const output = writeOutput(ctx, query);
      const body = await objectBody(ctx);
      if (body === undefined) throw badRequest('the body of the request is empty');
      const result = await store.create(ns, body, writeOptions(ctx, query));
      return respondWrite(ctx, store, output, result, 201);
    }
    case 'deletecollection': {
      const rep = negotiateOutput(ctx.get('Accept'), 'list');
      const deleteOptions = parseDeleteOptions(await deleteOptionsBody(ctx), query);
      const { list, warnings } = await store.deleteCollection(ns, parseListOptions(query), deleteOptions, userOf(ctx));
      setWarnings(ctx, warnings);
      return send(ctx, 200, renderList(store.def, list, rep, 'Metadata'), rep);
    }
    default:
      throw methodNotAllowed(info.verb, store.qualified);
  }
}

async function handleItem(ctx: Context, info: ResourceRequestInfo, store: ResourceStore, query: URLSearchParams, ns: string | undefined, name: string) {
  if (info.verb === 'delete') {
    const rep = negotiateOutput(ctx.get('Accept'), 'item');
    const options = parseDeleteOptions(await deleteOptionsBody(ctx), query);
    const { status, body, warnings } = await store.delete(ns, name, options, userOf(ctx));
    setWarnings(ctx, warnings);
    const rendered = body.kind === 'Status' ? body : renderObject(store.def, body as KubeObject, rep, 'Metadata');
    return send(ctx, status, rendered, rep);
  }
  return handleStatusOrItem(ctx, info, store, query, ns, name, '');
}

async function handleStatusOrItem(
  ctx: Context,
  info: ResourceRequestInfo,
  store: ResourceStore,
  query: URLSearchParams,
  ns: string | undefined,
  name: string,
  subresource: WriteSubresource,
) {
  switch (info.verb) {
    case 'get': {
      const rep = negotiateOutput(ctx.get('Accept'), 'item');
      const obj = await store.get(ns, name);
      return send(ctx, 200, renderObject(store.def, obj, rep, parseIncludeObject(query.get('includeObject'))), rep);
    }
    case 'update': {
      const output = writeOutput(ctx, query);
      const body = await objectBody(ctx);
      if (body === undefined) throw badRequest('the body of the request is empty');
      const result = await store.update(ns, name, body, subresource, writeOptions(ctx, query));
      return respondWrite(ctx, store, output, result, 200);
    }
    case 'patch': {
      const kind = patchType(ctx.get('Content-Type'));
      const output = writeOutput(ctx, query);
      const patch = await patchBody(ctx, kind);
      if (patch === undefined) throw badRequest('the body of the request is empty');
      const force = parseForce(query, kind);
      const options = writeOptions(ctx, query, kind === 'apply');
      const result = await store.patch(ns, name, kind, patch, subresource, { ...options, force });
      return respondWrite(ctx, store, output, result, result.created ? 201 : 200);
    }
    default:
      throw methodNotAllowed(info.verb, store.qualified);
  }
}

async function handleScale(ctx: Context, info: ResourceRequestInfo, store: ResourceStore, query: URLSearchParams, ns: string | undefined, name: string) {
  const rep = negotiateOutput(ctx.get('Accept'), 'item');
  switch (info.verb) {
    case 'get':
      return send(ctx, 200, await getScale(store, ns, name), rep);
    case 'update': {
      const body = await objectBody(ctx);
      const { scale, result } = await updateScale(store, ns, name, body, writeOptions(ctx, query));
      setWarnings(ctx, result.warnings);
      return send(ctx, 200, scale, rep);
    }
    case 'patch': {
      const kind = patchType(ctx.get('Content-Type'));
      const patch = await patchBody(ctx, kind);
      const { scale, result } = await patchScale(store, ns, name, kind, patch, writeOptions(ctx, query));
      setWarnings(ctx, result.warnings);
      return send(ctx, 200, scale, rep);
    }
    default:
      throw methodNotAllowed(info.verb, store.qualified);
  }
}

/** A create, update or action body, in the format its Content-Type names (415 for any other). */
async function objectBody(ctx: Context): Promise<unknown> {
  const format = bodyFormat(ctx.get('Content-Type'));
  return decodeBody(await readBody(ctx.req), format);
}

/** Apply patches are YAML (or JSON, which the YAML decoder takes as it is); the other patch types JSON. */
async function patchBody(ctx: Context, kind: PatchType): Promise<unknown> {
  return decodeBody(await readBody(ctx.req), kind === 'apply' ? 'yaml' : 'json');
}

/**
 * DeleteOptions are optional: an empty body needs no Content-Type, one with content is refused with 415 in a format
 * we cannot read, as kube-apiserver does — client-go sends CBOR first and falls back to JSON on exactly that answer.
 */
async function deleteOptionsBody(ctx: Context): Promise<unknown> {
  const raw = await readBody(ctx.req);
  if (raw.length === 0) return undefined;
  return decodeBody(raw, bodyFormat(ctx.get('Content-Type')));
}

function parseForce(query: URLSearchParams, kind: string): boolean {
  const force = query.get('force');
  if (force === null) return false;
  if (kind !== 'apply') throw badRequest('force: Forbidden: may not be specified for non-apply patch');
  return force === 'true' || force === '1';
}

function writeOptions(ctx: Context, query: URLSearchParams, isApply = false): WriteOptions {
  const explicit = parseFieldManager(query.get('fieldManager'), isApply);
  return {
    dryRun: parseDryRun(query.getAll('dryRun')),
    fieldManager: explicit ?? managerFromUserAgent(ctx.get('User-Agent')),
    fieldValidation: parseFieldValidation(query.get('fieldValidation')),
    user: userOf(ctx),
  };
}

/** The authenticated user, which admission is told about. */
function userOf(ctx: Context): UserInfo {
  return ctx.state.user as UserInfo;
}

interface WriteOutput {
  rep: Representation;
  includeObject: IncludeObject;
}

/**
 * How a write's answer is to be rendered, settled before the write: once it is committed, nothing about the request
 * may fail any more (a 406 then would make the client retry a write that happened).
 */
function writeOutput(ctx: Context, query: URLSearchParams): WriteOutput {
  return { rep: negotiateOutput(ctx.get('Accept'), 'item'), includeObject: parseIncludeObject(query.get('includeObject')) };
}

function respondWrite(ctx: Context, store: ResourceStore, output: WriteOutput, result: WriteResult, code: number): void {
  setWarnings(ctx, result.warnings);
  send(ctx, code, renderObject(store.def, result.object, output.rep, output.includeObject), output.rep);
}

function setWarnings(ctx: Context, warnings: string[]): void {
  for (const value of warningHeaders(warnings)) ctx.append('Warning', value);
}

function send(ctx: Context, status: number, value: unknown, rep: Representation): void {
  const { contentType, body } = serialize(value, rep);
  ctx.status = status;
  ctx.type = contentType;
  // Node writes the head in one piece with a string body, encoding both as UTF-8, which would encode the UTF-8
  // bytes of a Warning a second time; with a Buffer body the head goes out byte for byte.
  ctx.body = typeof body === 'string' && ctx.response.get('Warning') ? Buffer.from(body) : body;
}
