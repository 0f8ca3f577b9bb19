// A small admission webhook server for tests: HTTPS on 127.0.0.1 with a certificate from its own CA, answering each
// AdmissionReview with what the test's handler for that path returns, and keeping every review it received.
import { createServer, type Server } from 'node:https';
import { createServer as createTCPServer, type AddressInfo } from 'node:net';
import { createCA, issueServingCert } from '../../src/server/pki.ts';

export interface Review {
  apiVersion: string;
  kind: string;
  request: any;
}

/** The `response` of the answer, without uid (added here); `undefined` never answers (for timeouts). */
export type Handler = (review: Review) => Record<string, unknown> | undefined;

export interface WebhookServer {
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** The CA as a caBundle (base64 PEM). */
  caBundle: string;
  /** Reviews received, by path. */
  received: Map<string, Review[]>;
  handle(path: string, handler: Handler): void;
  stop(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const ca = await createCA('webhook-test-ca');
  const serving = await issueServingCert(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const handlers = new Map<string, Handler>();
  const received = new Map<string, Review[]>();
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const review = JSON.parse(body) as Review;
      received.set(path, [...(received.get(path) ?? []), review]);
      const handler = handlers.get(path);
      if (!handler) {
        res.writeHead(404).end('no handler');
        return;
      }
      const response = handler(review);
      if (response === undefined) return; // left hanging until the client gives up
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, ...response } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caBundle: Buffer.from(ca.certPem).toString('base64'),
    received,
    handle: (path, handler) => handlers.set(path, handler),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A JSONPatch response body: `patch` base64-encoded, as AdmissionReview carries it. */
export function jsonPatch(operations: unknown[]): Record<string, unknown> {
  return { allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(operations)).toString('base64') };
}

/** A port on 127.0.0.1 nothing listens on (one opened and closed again): a webhook that is down. */
export async function closedPort(): Promise<number> {
  const s = createTCPServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
