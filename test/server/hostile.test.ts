// Hostile input against a real standalone server over HTTPS: each kind of malformed, oversized or pathological
// request gets a Kubernetes Status with the code kube-apiserver answers — never a 500, never a stalled event loop —
// and a bounded flood of all of them at once, with a probe measuring how long /livez waited, ends in a summary.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import pino from 'pino';
import type { RunningServer } from '../../src/server/server.ts';
import { DB_PATH, database, startTestServer, type Response as Answer, type TestServer } from '../support/server.ts';


let t: TestServer;
let server: RunningServer;
const logLines: string[] = [];

before(async () => {
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  t = await startTestServer({ logger: pino({ level: 'info' }, capture) });
  server = t.server;
});

after(() => t.stop());

function call(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return t.request(method, path, { body, headers });
}

/** A TLS connection with the admin certificate, for what an HTTP client library would not send. */
function rawConnection(): Promise<TLSSocket> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), ca: server.caPem, cert: server.adminCertPem, key: server.adminKeyPem, servername: 'localhost' }, () =>
      resolve(socket),
    );
    socket.once('error', reject);
  });
}

/** Sends `head` as it is and answers with everything the server sent back before it closed the connection. */
async function raw(head: string): Promise<{ status: number; text: string }> {
  const socket = await rawConnection();
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0), text: received }));
    socket.write(head);
  });
}

function statusBody(text: string): any {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

const MERGE = { 'Content-Type': 'application/merge-patch+json' };
const JSON_PATCH = { 'Content-Type': 'application/json-patch+json' };
const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };
const NS = 'hostile';
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** A valid Database manifest of about `bytes` as block YAML: one annotation per line. */
function bigManifest(name: string, bytes: number): string {
  const lines = ['apiVersion: strongroom.dev/v1alpha1', 'kind: Database', 'metadata:', `  name: ${name}`, '  annotations:'];
  for (let i = 0, size = 0; size < bytes; i++) {
    const line = `    k${i}.example.com/key: "value number ${i}"`;
    size += line.length + 1;
    lines.push(line);
  }
  lines.push('spec:', '  engine: postgres');
  return lines.join('\n');
}

describe('hostile input, one kind at a time', () => {
  before(async () => {
    assert.equal((await call('POST', DB_PATH(NS), JSON.stringify(database('target', NS)), { 'Content-Type': 'application/json' })).status, 201);
  });

  it('answers /livez while a large YAML body is decoded', async () => {
    const yaml = call('POST', DB_PATH(NS), bigManifest('big', 1024 * 1024), { 'Content-Type': 'application/yaml' });
    // Sent once the body is on its way; with YAML decoded on the event loop it came back after the body's answer.
    const order: string[] = [];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const probe = call('GET', '/livez').then((answer) => (order.push('livez'), answer));
    const decoded = yaml.then((answer) => (order.push('yaml'), answer));
    const [live, created] = await Promise.all([probe, decoded]);
    assert.equal(live.status, 200);
    assert.notEqual(created.status, 500);
    assert.deepEqual(order, ['livez', 'yaml']);
  });

  it('reads apply bodies that are JSON as JSON', async () => {
    // The YAML parser refuses duplicate keys (and checks them in quadratic time); JSON, like Go's decoder, keeps the last.
    const annotations = Array.from({ length: 5000 }, (_, i) => `"k${i}.example.com/key":"v"`).join(',');
    const body = `{"apiVersion":"strongroom.dev/v1alpha1","kind":"Database","metadata":{"name":"target","annotations":{${annotations},"twice":"first","twice":"last"}},"spec":{"engine":"postgres"}}`;
    const answer = await call('PATCH', `${DB_PATH(NS)}/target?fieldManager=hostile&force=true`, body, APPLY);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(Object.keys(answer.json.metadata.annotations).length, 5001);
    assert.equal(answer.json.metadata.annotations.twice, 'last');
  });

  const tooDeep: [string, string, string, Record<string, string>][] = [
    ['a merge patch', `${DB_PATH(NS)}/target`, `{"spec":{"parameters":${nested(1001)}}}`, MERGE],
    ['a JSON patch value', `${DB_PATH(NS)}/target`, `[{"op":"add","path":"/spec/parameters","value":${nested(1001)}}]`, JSON_PATCH],
    ['a /scale patch', `${DB_PATH(NS)}/target/scale`, `{"spec":${nested(1001)}}`, MERGE],
    ['managedFields', `${DB_PATH(NS)}/target`, `{"metadata":{"managedFields":[{"manager":"a","operation":"Update","fieldsV1":${nested(1001)}}]}}`, MERGE],
    ['a JSON apply body', `${DB_PATH(NS)}/target?fieldManager=hostile`, `{"spec":${nested(1001)}}`, APPLY],
    ['a YAML flow apply body', `${DB_PATH(NS)}/target?fieldManager=hostile`, `spec: ${'['.repeat(1001)}`, APPLY],
    ['a YAML block apply body', `${DB_PATH(NS)}/target?fieldManager=hostile`, Array.from({ length: 1002 }, (_, d) => `${' '.repeat(d)}a:`).join('\n'), APPLY],
  ];
  for (const [what, path, body, headers] of tooDeep) {
    it(`refuses nesting over 1000 levels in ${what} with 400 "exceeded max depth"`, async () => {
      const answer = await call('PATCH', path, body, headers);
      assert.equal(answer.status, 400, answer.text);
      assert.match(answer.json.message, /exceeded max depth/);
    });
  }

  it('takes 1000 levels of nesting everywhere without a 500', async () => {
    const deep = nested(990);
    for (const [path, body, headers] of [
      [`${DB_PATH(NS)}/target`, `{"spec":{"parameters":${deep}}}`, MERGE],
      [`${DB_PATH(NS)}/target`, `[{"op":"add","path":"/spec/parameters","value":${deep}}]`, JSON_PATCH],
      [`${DB_PATH(NS)}/target/scale`, `{"spec":${deep}}`, MERGE],
      [`${DB_PATH(NS)}/target`, `{"metadata":{"managedFields":[{"manager":"a","operation":"Update","apiVersion":"strongroom.dev/v1alpha1","fieldsType":"FieldsV1","fieldsV1":${deep}}]}}`, MERGE],
    ] as const) {
      const answer = await call('PATCH', path, body, headers);
      assert.ok(answer.status < 500, `${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
    }
  });

  it('answers a malformed percent-escape in the path with 400', async () => {
    const answer = await call('GET', '/apis/strongroom.dev/v1alpha1/namespaces/%ZZ/databases');
    assert.equal(answer.status, 400);
    assert.equal(answer.json.kind, 'Status');
  });

  it('sends warnings with control and non-Latin-1 characters, and stores the object once', async () => {
    const body = JSON.stringify({ ...database('warned', NS), spec: { engine: 'postgres', 'naïve\u0001\u4e2d"x': 1 } });
    const created = await call('POST', `${DB_PATH(NS)}?fieldValidation=Warn`, body, { 'Content-Type': 'application/json' });
    assert.equal(created.status, 201, created.text);
    const warning = Buffer.from(String(created.headers['warning']), 'latin1').toString('utf8');
    assert.equal(warning, '299 - "unknown field \\"spec.naïve \u4e2d\\"x\\""');
    assert.equal((await call('POST', DB_PATH(NS), body, { 'Content-Type': 'application/json' })).status, 409, 'the first answer was the truth');
  });

  it('settles the answer format before writing: a 406 stores nothing', async () => {
    const answer = await call('POST', DB_PATH(NS), JSON.stringify(database('unacceptable', NS)), { 'Content-Type': 'application/json', Accept: 'text/html' });
    assert.equal(answer.status, 406);
    assert.equal((await call('GET', `${DB_PATH(NS)}/unacceptable`)).status, 404);
  });

  it('answers an over-limit body with 413 and closes the connection instead of reading on', async () => {
    const socket = await rawConnection();
    let closed = false;
    let received = '';
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    let sent = 0;
    let sentBeforeAnswer: number | undefined;
    socket.on('data', (chunk: Buffer) => {
      sentBeforeAnswer ??= sent;
      received += chunk.toString('latin1');
    });
    socket.write(`POST ${DB_PATH(NS)} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${4 * 1024 ** 3}\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const budget = 64 * 1024 * 1024;
    while (!closed && sent < budget) {
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
      sent += chunk.length;
    }
    assert.match(received, /^HTTP\/1\.1 413/);
    assert.ok(closed, `the server still read after ${sent} bytes`);
    // What the socket buffers take before the close arrives; a server that reads on takes the whole budget.
    assert.ok(sent - sentBeforeAnswer! <= 16 * chunk.length, `the server read ${sent - sentBeforeAnswer!} bytes after answering`);
    socket.destroy();
  });

  it('takes headers of 200 KiB, as the aggregator may forward', async () => {
    const groups = Array.from({ length: 4000 }, (_, i) => `group-${i}-${'x'.repeat(40)}`).join(',');
    const answer = await call('GET', DB_PATH(NS), undefined, { 'X-Large': groups });
    assert.equal(answer.status, 200);
  });

  for (const fieldValidation of ['Ignore', 'Warn', 'Strict']) {
    it(`refuses metadata.labels: [] with 400 under fieldValidation=${fieldValidation}`, async () => {
      const body = JSON.stringify({ ...database('labelled', NS), metadata: { name: 'labelled', labels: [] } });
      const answer = await call('POST', `${DB_PATH(NS)}?fieldValidation=${fieldValidation}`, body, { 'Content-Type': 'application/json' });
      assert.equal(answer.status, 400, answer.text);
      assert.match(answer.json.message, /labels/);
      const patched = await call('PATCH', `${DB_PATH(NS)}/target?fieldValidation=${fieldValidation}`, '{"metadata":{"labels":[]}}', MERGE);
      assert.equal(patched.status, 400, patched.text);
    });
  }

  it('answers unknown methods, OPTIONS and CONNECT with a 405 Status', async () => {
    for (const head of [
      `FOO ${DB_PATH(NS)} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
      `OPTIONS ${DB_PATH(NS)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      `CONNECT ${DB_PATH(NS)}/target HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    ]) {
      const answer = await raw(head);
      assert.equal(answer.status, 405, head);
      assert.equal(statusBody(answer.text).reason, 'MethodNotAllowed');
    }
  });

  it('answers /healthz/.. with a 404 Status', async () => {
    const answer = await raw('GET /healthz/.. HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(answer.status, 404);
    assert.equal(statusBody(answer.text).kind, 'Status');
  });

  it('does not log an aborted upload as an internal error', async () => {
    const socket = await rawConnection();
    socket.on('error', () => {});
    socket.write(`POST /apis/strongroom.dev/v1alpha1/namespaces/${NS}/backups HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"spec":`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    // The aborted request is counted once the server has answered it (to nobody).
    const counted = /apiserver_request_total\{[^}]*verb="POST"[^}]*resource="backups"[^}]*code="400"/;
    for (let i = 0; i < 100 && !counted.test((await call('GET', '/metrics')).text); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match((await call('GET', '/metrics')).text, counted);
    assert.deepEqual(logLines.filter((line) => line.includes('internal error')), []);
  });

  it('refuses DELETE bodies in a media type it cannot read with 415, so client-go falls back to JSON', async () => {
    const cbor = Buffer.from([0xa1, 0x64, 0x6b, 0x69, 0x6e, 0x64, 0x60]);
    for (const path of [`${DB_PATH(NS)}/target`, DB_PATH(NS)]) {
      const answer = await call('DELETE', path, cbor, { 'Content-Type': 'application/cbor' });
      assert.equal(answer.status, 415, answer.text);
      assert.match(answer.json.message, /application\/json, application\/yaml/);
    }
    assert.equal((await call('GET', `${DB_PATH(NS)}/target`)).status, 200, 'nothing was deleted');
  });
});

describe('watch-list streams', () => {
  const METADATA_WATCH = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
  const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

  /** The initial events of a watch-list, up to the initial-events-end bookmark. */
  function initialEvents(accept: string): Promise<any[]> {
    const url = new URL(server.url);
    const path = `/apis/strongroom.dev/v1alpha1/namespaces/watchlist/databases?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`;
    return new Promise((resolve, reject) => {
      const req = httpsRequest({ host: url.hostname, port: url.port, path, agent: false, ca: server.caPem, cert: server.adminCertPem, key: server.adminKeyPem, headers: { Accept: accept } }, (res) => {
        const events: any[] = [];
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString('utf8');
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            const event = JSON.parse(buffer.slice(0, nl));
            buffer = buffer.slice(nl + 1);
            events.push(event);
            if (event.type === 'BOOKMARK') {
              req.destroy();
              resolve(events);
            }
          }
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
      req.end();
    });
  }

  it('carries the kind and apiVersion of the list items on every streamed item, for full and metadata watches', async () => {
    for (const name of ['one', 'two']) {
      assert.equal((await call('POST', DB_PATH('watchlist'), JSON.stringify(database(name, 'watchlist')), { 'Content-Type': 'application/json' })).status, 201);
    }
    for (const [watchAccept, listAccept] of [['application/json', 'application/json'], [METADATA_WATCH, METADATA_LIST]] as const) {
      const list = (await call('GET', DB_PATH('watchlist'), undefined, { Accept: listAccept })).json;
      const events = await initialEvents(watchAccept);
      const added = events.filter((e) => e.type === 'ADDED').map((e) => e.object);
      assert.equal(added.length, list.items.length);
      for (const item of added) {
        assert.deepEqual([item.kind, item.apiVersion], [list.items[0].kind, list.items[0].apiVersion]);
      }
      const bookmark = events.at(-1).object;
      assert.deepEqual([bookmark.kind, bookmark.apiVersion], [list.items[0].kind, list.items[0].apiVersion]);
    }
  });
});

describe('hostile flood', () => {
  it('answers a bounded mix of hostile requests without a 500 while /livez keeps answering', async () => {
    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
    const rssBefore = process.memoryUsage().rss;
    const deepApply = `{"apiVersion":"strongroom.dev/v1alpha1","kind":"Database","metadata":{"name":"target"},"spec":{"parameters":${nested(990)}}}`;
    const attacks: Array<() => Promise<{ status: number; text: string }>> = [];
    for (let i = 0; i < 10; i++) {
      attacks.push(
        () => call('PATCH', `${DB_PATH(NS)}/target?fieldManager=flood-${i}`, deepApply, APPLY),
        () => call('PATCH', `${DB_PATH(NS)}/target`, `{"spec":${nested(5000 + i)}}`, MERGE),
        () => call('PATCH', `${DB_PATH(NS)}/target/scale`, `{"spec":${nested(20000)}}`, MERGE),
        () => call('PATCH', `${DB_PATH(NS)}/target`, '['.repeat(100_000), JSON_PATCH),
        () => call('PATCH', `${DB_PATH(NS)}/target?fieldManager=flood`, `a: ${'['.repeat(100_000)}`, APPLY),
        () => call('PATCH', `${DB_PATH(NS)}/target?fieldManager=flood`, `[${Array(200_000).fill('1').join(',')}]x`, APPLY),
        () => call('GET', `/apis/strongroom.dev/v1alpha1/namespaces/%${i}Z/databases/%E0%A4%A`),
        () => call('POST', `${DB_PATH(NS)}?fieldValidation=Warn`, JSON.stringify({ ...database(`w${i}`, NS), spec: { engine: 'postgres', [`\u0000\u00ff\u{1f600}${i}`]: 1 } }), { 'Content-Type': 'application/json' }),
        () => call('POST', `${DB_PATH(NS)}?fieldValidation=Ignore`, JSON.stringify({ ...database(`l${i}`, NS), metadata: { name: `l${i}`, labels: [], annotations: 'x' } }), { 'Content-Type': 'application/json' }),
        () => call('DELETE', `${DB_PATH(NS)}/w${i}`, Buffer.from([0xa0]), { 'Content-Type': 'application/cbor' }),
        () => raw(`BREW ${DB_PATH(NS)} HTTP/1.1\r\nHost: localhost\r\n\r\n`),
        () => raw(`CONNECT /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n`),
        () => raw(`GET /readyz/../../etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
        () => raw(`GET / HTTP/1.1\r\nHost: localhost\r\nX-Junk: ${'a'.repeat(1024 * 1024 + 1024)}\r\n\r\n`),
        () => raw(`POST ${DB_PATH(NS)} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999\r\n\r\n`),
      );
    }
    attacks.push(() => call('POST', DB_PATH(NS), bigManifest('flood-big', 2 * 1024 * 1024), { 'Content-Type': 'application/yaml' }));

    // The probe: one /livez at a time for as long as the attacks run, each one's wait recorded.
    let attacking = true;
    let probes = 0;
    let longestProbeMs = 0;
    const probing = (async () => {
      while (attacking) {
        const started = performance.now();
        const answer = await call('GET', '/livez');
        assert.equal(answer.status, 200);
        longestProbeMs = Math.max(longestProbeMs, performance.now() - started);
        probes++;
      }
    })();
    const codes = new Map<number, number>();
    const failures: string[] = [];
    let sharedWithKube = 0;
    const queue = [...attacks];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let attack = queue.shift(); attack; attack = queue.shift()) {
          const answer = await attack();
          codes.set(answer.status, (codes.get(answer.status) ?? 0) + 1);
          // kube-apiserver answers an apply body that does not fit the schema with the same 500 (structured-merge-diff's
          // "failed to create typed patch object"); any other 500 is ours alone.
          if (answer.status === 500 && /"message":"failed to create typed patch object/.test(answer.text)) sharedWithKube++;
          else if (answer.status === 500) failures.push(answer.text.slice(0, 300));
        }
      }),
    );
    attacking = false;
    await probing;
    // Long enough for the workers to exit and V8 to give back pages after a collection.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const { rss: rssAfter, heapUsed } = process.memoryUsage();
    const byCode = [...codes].sort(([a], [b]) => a - b).map(([code, count]) => `${code}×${count}`).join(' ');
    console.log(
      `hostile flood: ${attacks.length} requests tried; answers ${byCode}; 500s ${failures.length} (and ${sharedWithKube} that kube-apiserver gives too); ` +
        `${probes} /livez probes, longest wait ${longestProbeMs.toFixed(0)} ms; RSS ${mib(rssBefore)} MiB before, ${mib(rssAfter)} MiB after (JS heap in use ${mib(heapUsed)} MiB)`,
    );
    assert.deepEqual(failures, []);
    assert.equal(codes.get(0) ?? 0, 0, 'every request got an answer');
    assert.ok(probes > 0);
  });
});
