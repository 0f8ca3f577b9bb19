// Starts a real Strongroom server over HTTPS in a temporary directory and talks to it with its own admin
// certificate, the way kubectl does with the generated kubeconfig.
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AdmissionChain } from '../../src/admission/interface.ts';
import { startServer, type RunningServer, type ServerConfig } from '../../src/server/server.ts';

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export interface RequestInit {
  body?: unknown;
  /** Sent verbatim (no JSON encoding) when a string or Buffer. */
  headers?: Record<string, string>;
  /** Use no client certificate (anonymous). */
  anonymous?: boolean;
  cert?: { cert: string; key: string };
}

export interface TestServer {
  server: RunningServer;
  dataDir: string;
  request(method: string, path: string, init?: RequestInit): Promise<Response>;
  /** Opens a watch and collects its events until `stop()`. */
  watch(path: string, headers?: Record<string, string>): Promise<WatchStream>;
  stop(): Promise<void>;
}

export interface WatchStream {
  status: number;
  events: Array<{ type: string; object: any }>;
  /** Resolves when at least `count` events have arrived (rejects after `ms`). */
  waitFor(count: number, ms?: number): Promise<Array<{ type: string; object: any }>>;
  ended: Promise<void>;
  stop(): void;
}

export async function startTestServer(
  options: {
    dataDir?: string;
    bookmarkIntervalMs?: number;
    history?: ServerConfig['history'];
    etcd?: ServerConfig['etcd'];
    admission?: Partial<AdmissionChain>;
    logger?: ServerConfig['logger'];
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'strongroom-test-'));
  const server = await startServer({
    bindAddress: '127.0.0.1',
    port: 0,
    dataDir,
    bookmarkIntervalMs: options.bookmarkIntervalMs,
    history: options.history,
    etcd: options.etcd,
    admission: options.admission,
    logger: options.logger ?? pino({ level: 'silent' }),
  });
  const tls = (init?: RequestInit): RequestOptions => ({
    ca: server.caPem,
    ...(init?.anonymous ? {} : { cert: init?.cert?.cert ?? server.adminCertPem, key: init?.cert?.key ?? server.adminKeyPem }),
  });
  const base = new URL(server.url);

  function request(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...init.headers };
      let payload: string | Buffer | undefined;
      if (init.body !== undefined) {
        payload = typeof init.body === 'string' || Buffer.isBuffer(init.body) ? init.body : JSON.stringify(init.body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type') && typeof init.body !== 'string' && !Buffer.isBuffer(init.body)) {
          headers['Content-Type'] = 'application/json';
        }
        // Node frames DELETE bodies only with an explicit length.
        headers['Content-Length'] = String(Buffer.byteLength(payload));
      }
      const req = httpsRequest({ host: base.hostname, port: base.port, path, method, headers, ...tls(init) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  function watch(path: string, headers: Record<string, string> = {}): Promise<WatchStream> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: base.hostname, port: base.port, path, method: 'GET', headers, ...tls() }, (res) => {
        const events: Array<{ type: string; object: any }> = [];
        const waiters: Array<() => void> = [];
        let buffer = '';
        let endResolve: () => void = () => {};
        const ended = new Promise<void>((r) => (endResolve = r));
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) events.push(JSON.parse(line));
          }
          for (const w of waiters.splice(0)) w();
        });
        res.on('end', () => endResolve());
        res.on('close', () => endResolve());
        resolve({
          status: res.statusCode ?? 0,
          events,
          ended,
          waitFor(count, ms = 5000) {
            return new Promise((ok, fail) => {
              const timer = setTimeout(() => fail(new Error(`expected ${count} watch events, got ${events.length}: ${JSON.stringify(events.map((e) => e.type))}`)), ms);
              const check = () => {
                if (events.length >= count) {
                  clearTimeout(timer);
                  ok(events.slice());
                } else waiters.push(check);
              };
              check();
            });
          },
          stop() {
            req.destroy();
          },
        });
      });
      req.on('error', (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
      });
      req.end();
    });
  }

  return {
    server,
    dataDir,
    request,
    watch,
    async stop() {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A minimal valid Database manifest. */
export function database(name: string, namespace = 'default', spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name, namespace },
    spec: { engine: 'postgres', ...spec },
  };
}

export const DB_PATH = (ns = 'default') => `/apis/strongroom.dev/v1alpha1/namespaces/${ns}/databases`;
