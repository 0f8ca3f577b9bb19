// An acknowledged write survives SIGKILL of the whole server: the `strongroom serve` process runs as a child, the test
// creates Databases over HTTPS as fast as it can (and updates one counter object), kills the server mid-stream,
// restarts it on the same data directory and reads back every object the server had answered 201 (or 200) for.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYAML } from 'yaml';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const GV = '/apis/strongroom.dev/v1alpha1';
const NAMESPACES = ['crash-a', 'crash-b', 'crash-c'];
/** Creates in flight at once: enough that the kill lands among several unfinished writes. */
const IN_FLIGHT = 8;
/** The kill comes after this many acknowledged creates. */
const KILL_AFTER = 300;

interface Server {
  child: ChildProcess;
  url: URL;
  agent: Agent;
  output(): string;
}

interface Reply {
  status: number;
  json: any;
}

const children = new Set<ChildProcess>();
const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-e2e-crash-'));

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts `strongroom serve` on a free port and resolves once it says where it serves. */
function serve(): Promise<Server> {
  const child = spawn(process.execPath, [MAIN, 'serve', '--secure-port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const served = /Strongroom is serving on (https:\/\/\S+)/.exec(output);
      if (!served) return;
      child.stderr!.off('data', onData);
      // The kubeconfig is the server's own statement of how to reach it as the admin.
      const kubeconfig = parseYAML(readFileSync(join(dataDir, 'kubeconfig'), 'utf8'));
      const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
      const agent = new Agent({
        keepAlive: true,
        maxSockets: IN_FLIGHT,
        ca: decode(kubeconfig.clusters[0].cluster['certificate-authority-data']),
        cert: decode(kubeconfig.users[0].user['client-certificate-data']),
        key: decode(kubeconfig.users[0].user['client-key-data']),
      });
      resolve({ child, url: new URL(served[1]!), agent, output: () => output });
    };
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr!.on('data', onData);
    child.on('exit', (code, signal) => reject(new Error(`strongroom serve exited (${signal ?? code}) before serving:\n${output}`)));
  });
}

function call(server: Server, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      {
        host: server.url.hostname,
        port: server.url.port,
        method,
        path,
        agent: server.agent,
        headers: payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const isJSON = /json/.test(String(res.headers['content-type']));
          try {
            resolve({ status: res.statusCode ?? 0, json: isJSON ? JSON.parse(text) : text });
          } catch (error) {
            // A body cut off by the kill: the write was not acknowledged.
            reject(error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function databaseManifest(i: number) {
  const namespace = NAMESPACES[i % NAMESPACES.length]!;
  return {
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: `db-${i}`, namespace, labels: { batch: String(i % 7) }, annotations: { payload: 'x'.repeat(1000 + (i % 50)) } },
    spec: { engine: (['postgres', 'redis', 'etcd'] as const)[i % 3], replicas: [1, 3, 5][i % 3] },
  };
}

it('keeps every acknowledged object when the server is killed with SIGKILL during writes', { timeout: 60_000 }, async () => {
  const first = await serve();
  const counterPath = `${GV}/namespaces/crash-a/databases/counter`;
  let counter = await call(first, 'POST', `${GV}/namespaces/crash-a/databases`, {
    ...databaseManifest(0),
    metadata: { name: 'counter', namespace: 'crash-a' },
  });
  assert.equal(counter.status, 201, JSON.stringify(counter.json));

  const acknowledged = new Map<string, any>();
  let lastCounter = counter.json;
  let next = 0;
  let killed = false;
  const kill = () => {
    if (!killed) first.child.kill('SIGKILL');
    killed = true;
  };
  const firstExit = new Promise<NodeJS.Signals | null>((resolve) => first.child.once('exit', (_code, signal) => resolve(signal)));

  // Creates: each writer sends the next object as soon as its previous one is answered.
  const writer = async () => {
    while (!killed) {
      const i = next++;
      const manifest = databaseManifest(i);
      const reply = await call(first, 'POST', `${GV}/namespaces/${manifest.metadata.namespace}/databases`, manifest).catch(() => undefined);
      if (reply === undefined) return; // the server is gone; this write was never acknowledged
      assert.equal(reply.status, 201, JSON.stringify(reply.json));
      acknowledged.set(`${manifest.metadata.namespace}/${manifest.metadata.name}`, reply.json);
      if (acknowledged.size >= KILL_AFTER) kill();
    }
  };
  // Updates: one object changed in sequence with optimistic concurrency, so a lost update would show.
  const updater = async () => {
    while (!killed) {
      const changed = structuredClone(lastCounter);
      changed.metadata.annotations = { count: String(Number(changed.metadata.annotations?.count ?? 0) + 1) };
      changed.spec.replicas = changed.spec.replicas === 1 ? 3 : 1;
      const reply = await call(first, 'PUT', counterPath, changed).catch(() => undefined);
      if (reply === undefined) return;
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
      lastCounter = reply.json;
    }
  };
  await Promise.all([...Array.from({ length: IN_FLIGHT - 1 }, writer), updater()]);
  assert.equal(await firstExit, 'SIGKILL', `the server died of the kill, not of something else:\n${first.output()}`);
  first.agent.destroy();
  assert.ok(acknowledged.size >= KILL_AFTER, `only ${acknowledged.size} creates acknowledged`);
  assert.ok(Number(lastCounter.metadata.annotations?.count ?? 0) >= 5, 'the counter was updated during the writes');

  const second = await serve();
  try {
    assert.equal((await call(second, 'GET', '/readyz')).status, 200);
    const stored = new Map<string, any>();
    for (const namespace of NAMESPACES) {
      const list = await call(second, 'GET', `${GV}/namespaces/${namespace}/databases`);
      assert.equal(list.status, 200, JSON.stringify(list.json));
      for (const item of list.json.items) stored.set(`${namespace}/${item.metadata.name}`, item);
    }
    const lost: string[] = [];
    for (const [key, object] of acknowledged) {
      const found = stored.get(key);
      if (!found) {
        lost.push(key);
        continue;
      }
      assert.deepEqual(
        { uid: found.metadata.uid, resourceVersion: found.metadata.resourceVersion, labels: found.metadata.labels, annotations: found.metadata.annotations, spec: found.spec },
        { uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion, labels: object.metadata.labels, annotations: object.metadata.annotations, spec: object.spec },
        key,
      );
    }
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged creates lost`);

    // The last acknowledged update, or one sent later whose answer the kill cut off: never an older one.
    const storedCounter = (await call(second, 'GET', counterPath)).json;
    assert.equal(storedCounter.metadata.uid, lastCounter.metadata.uid);
    assert.ok(
      Number(storedCounter.metadata.annotations.count) >= Number(lastCounter.metadata.annotations.count),
      `counter ${storedCounter.metadata.annotations.count} is behind the acknowledged ${lastCounter.metadata.annotations.count}`,
    );
    assert.ok(BigInt(storedCounter.metadata.resourceVersion) >= BigInt(lastCounter.metadata.resourceVersion));

    // The revision never goes back: a write after the restart is newer than everything acknowledged before.
    const newest = [...acknowledged.values(), lastCounter].reduce((max, o) => (BigInt(o.metadata.resourceVersion) > max ? BigInt(o.metadata.resourceVersion) : max), 0n);
    const created = await call(second, 'POST', `${GV}/namespaces/crash-a/databases`, { ...databaseManifest(0), metadata: { name: 'after-restart', namespace: 'crash-a' } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.ok(BigInt(created.json.metadata.resourceVersion) > newest, `resourceVersion ${created.json.metadata.resourceVersion} after the restart is not above ${newest}`);
    // Updates go on from the stored state: its resourceVersion is current, not one the restarted store has forgotten.
    const continued = await call(second, 'PUT', counterPath, { ...storedCounter, spec: { ...storedCounter.spec, replicas: 5 } });
    assert.equal(continued.status, 200, JSON.stringify(continued.json));
  } finally {
    second.child.kill('SIGTERM');
    second.agent.destroy();
  }
});
