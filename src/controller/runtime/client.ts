// The controller's Kubernetes transport: JSON over HTTPS to the apiserver named by a client-node KubeConfig, which
// supplies the server, TLS material and credentials (client certificates, tokens, exec and file-token providers).
//
// Why not client-node's generated APIs, KubernetesObjectApi or Watch for the calls themselves (2.0.1, read in
// node_modules): their results go through ObjectSerializer, which turns timestamps into `Date`s for lists but not for
// watch events; KubernetesObjectApi spends a discovery request per apiVersion; every call builds a fresh undici Agent,
// so every request pays a TLS handshake; and Watch has a fixed, private 30 s inactivity timeout and drops unreadable
// lines silently. Here objects stay the JSON the server sent, one keep-alive agent is reused, and a watch ends only
// when the server ends it, the connection fails, or the caller aborts it.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { StatusError } from '../../api/errors.ts';
import type { KubeObject, Status } from '../../api/meta.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Default `application/json` when there is a body. */
  contentType?: string;
  signal?: AbortSignal;
  /** Default: the client's (30 s). */
  timeoutMs?: number;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** The object; for ERROR a `Status`. */
  object: KubeObject;
}

export interface KubeClient {
  /** One request; resolves with the parsed JSON body, throws a `StatusError` for any non-2xx answer. */
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /**
   * Streams a watch (`watch=true` is added). Resolves when the server ends the stream; rejects with a `StatusError`
   * when the server refuses it, or with the transport's error when the connection fails or `signal` aborts.
   */
  watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

/** The Reason kube-apiserver gives each code, for answers whose body is not a Status (a proxy's, say). */
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The error a Status stands for (an answer's body, or a watch ERROR event's object). */
export function statusError(status: Partial<Status> | undefined, httpCode: number, fallbackMessage = `HTTP ${httpCode}`): StatusError {
  const code = status?.code || httpCode;
  return new StatusError(code, status?.reason || REASONS[code] || 'Unknown', status?.message || fallbackMessage, status?.details);
}

export function isStatusError(err: unknown, code?: number): err is StatusError {
  return err instanceof StatusError && (code === undefined || err.code === code);
}

function errorFromBody(code: number, body: string): StatusError {
  let status: Partial<Status> | undefined;
  try {
    const parsed = JSON.parse(body) as Partial<Status>;
    if (parsed?.kind === 'Status') status = parsed;
  } catch {
    // Not JSON: the text itself is the best message there is.
  }
  return statusError(status, code, body.trim().slice(0, 500) || undefined);
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.on('end', () => resolve(text));
    response.on('error', reject);
    response.on('close', () => reject(new Error('the connection closed before the response ended')));
  });
}

export interface KubeConfigClientOptions {
  /** Upper bound of every non-watch request. Default 30 s. */
  timeoutMs?: number;
}

export class KubeConfigClient implements KubeClient {
  private readonly kc: KubeConfig;
  private readonly server: URL;
  private readonly agent: HttpsAgent | HttpAgent;
  private readonly timeoutMs: number;

  constructor(kc: KubeConfig, options: KubeConfigClientOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    if (cluster.proxyUrl) throw new Error(`the kubeconfig's proxy-url (${cluster.proxyUrl}) is not supported`);
    this.kc = kc;
    this.server = new URL(cluster.server);
    // Keep-alive, so reconciles reuse connections; the agent pools sockets by the TLS options each request carries.
    this.agent = this.server.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await this.send(method, path, options.query ?? {}, headers, payload, signal);
    const text = await readBody(response);
    const code = response.statusCode ?? 0;
    if (code < 200 || code >= 300) throw errorFromBody(code, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const response = await this.send('GET', path, { ...query, watch: true }, { accept: 'application/json' }, undefined, signal);
    if (response.statusCode !== 200) throw errorFromBody(response.statusCode ?? 0, await readBody(response));
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffered += chunk;
        for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent);
          } catch (err) {
            response.destroy(err instanceof SyntaxError ? new Error(`unreadable watch event: ${line.slice(0, 200)}`) : (err as Error));
            return;
          }
        }
      });
      response.on('end', resolve);
      response.on('error', reject);
      // After 'end' this rejects an already settled promise, which is a no-op; before it, the stream was cut.
      response.on('close', () => reject(new Error('the watch connection closed before the stream ended')));
    });
  }

  private async send(
    method: string,
    path: string,
    query: Query,
    headers: Record<string, string>,
    payload: string | undefined,
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const base = this.server.pathname.replace(/\/$/, '');
    const url = new URL(`${base}${path}`, this.server);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    const options: HttpsRequestOptions = { method, headers, signal };
    // Per request, so rotating credentials (token files, exec plugins) are picked up; the TLS material rides along.
    await this.kc.applyToHTTPSOptions(options);
    options.agent = this.agent;
    const send = this.server.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, options, resolve);
      req.on('error', reject);
      req.end(payload);
    });
  }
}
