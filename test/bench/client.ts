// The load generator's HTTPS client: one keep-alive pool per server under test, mutual TLS with the admin
// certificate, and a closed-loop driver that keeps a fixed number of requests in flight.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { performance } from 'node:perf_hooks';

export interface Credentials {
  /** CA that signed the serving certificate. */
  ca: string;
  cert: string;
  key: string;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class BenchClient {
  readonly url: URL;
  /** Requests sent so far (streams not counted), to divide a server's CPU time by. */
  requestsSent = 0;
  private readonly credentials: Credentials;
  private readonly agent: Agent;

  constructor(url: string, credentials: Credentials, maxSockets: number) {
    this.url = new URL(url);
    this.credentials = credentials;
    this.agent = new Agent({ keepAlive: true, maxSockets, ...credentials });
  }

  request(method: string, path: string, body?: string, contentType = 'application/json'): Promise<Reply> {
    this.requestsSent++;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (body !== undefined) {
        headers['Content-Type'] = contentType;
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      const req = request(
        { host: this.url.hostname, port: this.url.port, path, method, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Like `request`, but a status other than `status` is an error carrying the answer. */
  async expect(status: number, method: string, path: string, body?: string, contentType?: string): Promise<Reply> {
    const reply = await this.request(method, path, body, contentType);
    if (reply.status !== status) {
      throw new Error(`${method} ${this.url.origin}${path}: expected ${status}, got ${reply.status}: ${reply.body.toString('utf8', 0, 500)}`);
    }
    return reply;
  }

  /** A long-lived GET on a connection of its own, resolved when the headers arrive. */
  openStream(path: string): Promise<{ response: IncomingMessage; close(): void }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: this.url.hostname, port: this.url.port, path, method: 'GET', agent: false, ...this.credentials }, (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`GET ${this.url.origin}${path}: expected 200, got ${response.statusCode}`));
          req.destroy();
          return;
        }
        resolve({ response, close: () => req.destroy() });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET') reject(error);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface LoadResult {
  requests: number;
  seconds: number;
  latenciesMs: number[];
}

export type LoadLimit = { durationMs: number } | { count: number };

/**
 * Runs `op` from `concurrency` loops, each starting its next call when the previous one finishes (a closed loop, so
 * the figure is the server's pace, not an offered rate), until the time or the count is used up.
 */
export async function runLoad(concurrency: number, limit: LoadLimit, op: (i: number) => Promise<unknown>): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = 'durationMs' in limit ? started + limit.durationMs : Infinity;
  const count = 'count' in limit ? limit.count : Infinity;
  let next = 0;
  const loop = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await op(i);
      latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs };
}
