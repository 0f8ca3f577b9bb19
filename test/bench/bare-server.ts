// The runtime's limit: a bare Node HTTPS server with Strongroom's TLS settings (its serving certificate, client
// certificates requested against its client CA) that answers each request with the bytes Strongroom gave for it,
// doing no work of its own. Usage: node bare-server.ts PKI_DIR FIXTURES_DIR; prints {"port": N} when listening.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadServingOptions } from '../../src/server/tls.ts';
import { readFixtures, type Answer } from './fixtures.ts';

const [pkiDir, fixturesDir] = process.argv.slice(2);
if (!pkiDir || !fixturesDir) throw new Error('usage: bare-server.ts PKI_DIR FIXTURES_DIR');

const fixtures = readFixtures(fixturesDir);
const pageByToken = new Map(fixtures.pages.map((page) => [page.continue, page]));
const watchers = new Set<ServerResponse>();

function send(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, a.headers);
  res.end(a.body);
}

/** Which captured answer a request gets, from the same paths and queries the bench sends to Strongroom. */
function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  switch (req.method) {
    case 'GET': {
      if (url.searchParams.has('watch')) {
        res.writeHead(fixtures.watch.status, fixtures.watch.headers);
        res.flushHeaders();
        watchers.add(res);
        res.on('close', () => watchers.delete(res));
        return;
      }
      if (!url.pathname.endsWith('/databases')) return send(res, fixtures.get);
      if (!url.searchParams.has('limit')) return send(res, fixtures.list);
      const page = pageByToken.get(url.searchParams.get('continue') ?? '');
      if (!page) return send(res, { status: 410, headers: {}, body: Buffer.from('unknown continue token') });
      return send(res, page);
    }
    case 'POST':
      return send(res, fixtures.create);
    case 'PATCH':
    case 'PUT':
      // Like Strongroom, which hands a write's event to its watchers before it acknowledges the write. Chunked
      // writes leave at the end of the tick (Node corks them), so the acknowledgement waits for them.
      for (const watcher of watchers) watcher.write(fixtures.event);
      return process.nextTick(send, res, fixtures.update);
    default:
      return send(res, { status: 405, headers: {}, body: Buffer.alloc(0) });
  }
}

const serving = loadServingOptions({
  certFile: join(pkiDir, 'serving.crt'),
  keyFile: join(pkiDir, 'serving.key'),
  clientCAFiles: [join(pkiDir, 'client-ca.crt')],
});
const server = createServer(serving.options, (req, res) => {
  // The whole request is read, as a real server must, before answering.
  req.resume();
  req.on('end', () => route(req, res));
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
