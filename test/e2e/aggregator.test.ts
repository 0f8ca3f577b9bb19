// Strongroom registered in a real control plane through its APIService, driven with kubectl of the same release through
// kube-apiserver: discovery and OpenAPI aggregation, the kubectl scenario, watches, the namespace controller deleting
// our objects through discovery, RBAC down to one subresource of one object, and Strongroom's own port refusing
// callers the aggregator did not vouch for. One cluster for the whole file; each block works in its own namespace.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { KeyPair } from '../cluster/pki.ts';
import { httpsRequest, type Response } from '../cluster/client.ts';
import { startStrongroomCluster, type StrongroomCluster } from '../cluster/strongroom.ts';
import { kubectlFor, tableRows, type Kubectl, type KubectlResult } from './kubectl.ts';

const GV = '/apis/strongroom.dev/v1alpha1';

let cluster: StrongroomCluster;
let kubectl: Kubectl;

before(async () => {
  const started = performance.now();
  cluster = await startStrongroomCluster({ log: (line) => console.log(`[aggregator] ${line}`) });
  console.log(`[aggregator] cluster with Strongroom registered in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  kubectl = kubectlFor(cluster.kubeconfig);
});
after(async () => {
  await kubectl?.close();
  await cluster?.stop();
});

function manifest(name: string, namespace: string, spec = 'engine: postgres'): string {
  const indented = spec.split('\n').map((line) => `  ${line}`).join('\n');
  return `apiVersion: strongroom.dev/v1alpha1\nkind: Database\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${indented}\n`;
}

/**
 * Reports a Backup Completed as its agent would (kwok runs no agent): these tests are about the API's objects; the
 * backup tests run the agent itself.
 */
async function completeAsAgent(namespace: string, name: string): Promise<void> {
  const status = { phase: 'Completed', completionTime: new Date().toISOString(), location: `pvc://x-backups/${name}`, sha256: 'a'.repeat(64), sizeBytes: 1 };
  await kubectl.ok(['patch', 'backup', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

/** A Role allowing `user` one action: create databases/backup on `database` only, and its RoleBinding. */
function backupOnly(namespace: string, user: string, database: string): string {
  const name = `backup-${database}`;
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace } };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { ...role, rules: [{ apiGroups: ['strongroom.dev'], resources: ['databases/backup'], resourceNames: [database], verbs: ['create'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name, namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      },
    ],
  });
}

function assertFailed(result: KubectlResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `kubectl should have failed; stdout:\n${result.stdout}`);
  assert.match(result.stderr, pattern);
}

const jsonpath = (args: string[], path: string) => kubectl.ok(['get', ...args, '-o', `jsonpath=${path}`]);

/** Polls a kubectl read until `accept` holds; the aggregator builds some documents in the background. */
async function eventually(args: string[], accept: (stdout: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await kubectl.run(args);
    if (result.code === 0 && accept(result.stdout)) return result.stdout;
    if (Date.now() > deadline) assert.fail(`${what}: kubectl ${args.join(' ')} never did:\n${result.stderr}${result.stdout.slice(0, 2000)}`);
    await sleep(500);
  }
}

describe('registration', () => {
  it('makes the APIService Available', async () => {
    const available = await jsonpath(['apiservice', 'v1alpha1.strongroom.dev'], '{.status.conditions[?(@.type=="Available")].status}');
    assert.equal(available, 'True');
  });

  it('lists databases, backups and restores in kubectl api-resources', async () => {
    const rows = tableRows(await kubectl.ok(['api-resources', '--api-group', 'strongroom.dev']));
    assert.deepEqual(rows[0], ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND']);
    assert.deepEqual(rows.slice(1).sort(), [
      ['backups', '', 'strongroom.dev/v1alpha1', 'true', 'Backup'],
      ['databases', 'db', 'strongroom.dev/v1alpha1', 'true', 'Database'],
      ['restores', '', 'strongroom.dev/v1alpha1', 'true', 'Restore'],
    ]);
  });

  it('lists the group version in kube-apiserver\'s /openapi/v3 and serves its document through it', async () => {
    const root = await eventually(['get', '--raw', '/openapi/v3'], (out) => 'apis/strongroom.dev/v1alpha1' in JSON.parse(out).paths, 'OpenAPI v3 aggregation');
    const url: string = JSON.parse(root).paths['apis/strongroom.dev/v1alpha1'].serverRelativeURL;
    const document = JSON.parse(await kubectl.ok(['get', '--raw', url]));
    assert.ok(document.components.schemas['dev.strongroom.v1alpha1.Database'], 'the Database schema');
  });

  it('explains databases.spec', async () => {
    const out = await eventually(['explain', 'databases.spec'], (text) => /^KIND:\s+Database$/m.test(text), 'kubectl explain');
    assert.match(out, /^GROUP:\s+strongroom\.dev$/m);
    assert.match(out, /^ {2}engine\s+<string> -required-$/m);
  });
});

describe('the apiservice/ base', () => {
  it('is accepted whole by kube-apiserver (server-side dry run): the Deployment, PDB and Service the local overlay leaves out', async () => {
    const base = fileURLToPath(new URL('../../apiservice/', import.meta.url));
    const out = await kubectl.ok(['apply', '--dry-run=server', '-k', base]);
    for (const line of ['deployment.apps/strongroom created', 'poddisruptionbudget.policy/strongroom created', 'service/strongroom configured']) {
      assert.ok(out.includes(`${line} (server dry run)`), `${line} in:\n${out}`);
    }
  });
});

describe('kubectl through the aggregator', () => {
  const ns = 'shop';
  before(() => kubectl.ok(['create', 'namespace', ns]));

  it('creates, gets, prints wide, applies twice, patches, labels, scales and deletes', async () => {
    assert.equal((await kubectl.ok(['create', '-f', '-'], { input: manifest('orders', ns) })).trim(), 'database.strongroom.dev/orders created');
    const rows = tableRows(await kubectl.ok(['get', 'db', 'orders', '-n', ns]));
    assert.deepEqual(rows[0], ['NAME', 'ENGINE', 'VERSION', 'READY', 'PHASE', 'LAST-BACKUP', 'AGE']);
    assert.deepEqual(rows[1]!.slice(0, 2), ['orders', 'postgres']);
    const wide = tableRows(await kubectl.ok(['get', 'databases', '-n', ns, '-o', 'wide']));
    assert.deepEqual(wide[0]!.slice(-3), ['ENDPOINT', 'NEXT-BACKUP', 'STORAGE']);

    const file = kubectl.file('cart.yaml', manifest('cart', ns, 'engine: redis\ndeletionPolicy: Delete'));
    assert.equal((await kubectl.ok(['apply', '-f', file])).trim(), 'database.strongroom.dev/cart created');
    assert.equal((await kubectl.ok(['apply', '-f', file])).trim(), 'database.strongroom.dev/cart unchanged');

    assert.equal((await kubectl.ok(['patch', 'db', 'orders', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":2}}'])).trim(), 'database.strongroom.dev/orders patched');
    assert.equal((await kubectl.ok(['label', 'db', 'orders', '-n', ns, 'tier=gold'])).trim(), 'database.strongroom.dev/orders labeled');
    assert.equal(await jsonpath(['db', '-n', ns, '-l', 'tier=gold'], '{.items[*].metadata.name}'), 'orders');
    assert.equal((await kubectl.ok(['scale', 'db', 'orders', '-n', ns, '--replicas=3'])).trim(), 'database.strongroom.dev/orders scaled');
    assert.equal(await jsonpath(['db', 'orders', '-n', ns], '{.spec.replicas}'), '3');

    assert.equal((await kubectl.ok(['delete', 'db', 'cart', '-n', ns])).trim(), `database.strongroom.dev "cart" deleted from ${ns} namespace`);
    assertFailed(await kubectl.run(['get', 'db', 'cart', '-n', ns]), /databases\.strongroom\.dev "cart" not found/);
  });

  it('applies server-side, with managedFields', async () => {
    const file = kubectl.file('ledger.yaml', manifest('ledger', ns, 'engine: etcd\nreplicas: 3'));
    for (let i = 0; i < 2; i++) {
      assert.equal((await kubectl.ok(['apply', '--server-side', '-f', file])).trim(), 'database.strongroom.dev/ledger serverside-applied');
    }
    // The one Apply entry is kubectl's; the controller's finalizer and status writes are Update entries of its own.
    assert.equal(await jsonpath(['db', 'ledger', '-n', ns, '--show-managed-fields'], '{.metadata.managedFields[?(@.operation=="Apply")].manager}'), 'kubectl');
  });

  it('creates a Backup and a Restore through the action subresources with kubectl create --raw', async () => {
    const backup = JSON.parse(await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/backup`, '-f', kubectl.file('b.json', '{}')]));
    assert.deepEqual([backup.kind, backup.spec.databaseName], ['Backup', 'orders']);
    assert.equal(await jsonpath(['backups', '-n', ns], '{.items[*].metadata.name}'), backup.metadata.name);
    await completeAsAgent(ns, backup.metadata.name);
    const restore = JSON.parse(
      await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/orders/restore`, '-f', kubectl.file('r.json', JSON.stringify({ spec: { backupName: backup.metadata.name } }))]),
    );
    assert.deepEqual([restore.kind, restore.spec.backupName], ['Restore', backup.metadata.name]);
  });

  it('refuses objects in a namespace that does not exist', async () => {
    assertFailed(await kubectl.run(['apply', '-f', '-'], { input: manifest('lost', 'nowhere') }), /namespaces "nowhere" not found/);
  });

  it('streams kubectl get -w events', async () => {
    const watch = kubectl.background(['get', 'db', '-n', ns, '-w', '--output-watch-events']);
    try {
      await watch.waitForLine(/^ADDED\s+orders\s+postgres\s/);
      await kubectl.ok(['apply', '-f', '-'], { input: manifest('stream', ns, 'engine: redis\ndeletionPolicy: Delete') });
      await watch.waitForLine(/^ADDED\s+stream\s+redis\s/);
      await kubectl.ok(['patch', 'db', 'stream', '-n', ns, '--type=merge', '-p', '{"spec":{"replicas":3}}']);
      await watch.waitForLine(/^MODIFIED\s+stream\s+redis\s+\S+\s+0\/3\s/);
      await kubectl.ok(['delete', 'db', 'stream', '-n', ns]);
      await watch.waitForLine(/^DELETED\s+stream\s/);
      assert.equal(watch.hasExited(), false, 'the watch keeps running');
    } finally {
      await watch.stop();
    }
  });
});

describe('namespace deletion', () => {
  const ns = 'doomed';

  it('completes: the namespace controller finds Databases, Backups and Restores through discovery and deletes them', async () => {
    await kubectl.ok(['create', 'namespace', ns]);
    await kubectl.ok(['apply', '-f', '-'], { input: [manifest('one', ns), manifest('two', ns, 'engine: redis')].join('---\n') });
    const backup = JSON.parse(await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/one/backup`, '-f', kubectl.file('nb.json', '{}')]));
    await completeAsAgent(ns, backup.metadata.name);
    await kubectl.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/one/restore`, '-f', kubectl.file('nr.json', JSON.stringify({ spec: { backupName: backup.metadata.name, target: { inPlace: { safetyBackup: false } } } }))]);
    const inNamespace = () => kubectl.ok(['get', 'databases,backups,restores', '-A', '--field-selector', `metadata.namespace=${ns}`, '-o', 'name']);
    assert.equal((await inNamespace()).trim().split('\n').length, 4);

    // kubectl waits until the namespace is gone, which happens only once the controller has emptied it.
    await kubectl.ok(['delete', 'namespace', ns, '--timeout=120s'], { timeoutMs: 150_000 });
    assertFailed(await kubectl.run(['get', 'namespace', ns]), /namespaces "doomed" not found/);
    assert.equal((await inNamespace()).trim(), '');
  });
});

describe('RBAC through the aggregator', () => {
  const ns = 'vault';
  let operator: Kubectl;
  let viewer: Kubectl;

  before(async () => {
    await kubectl.ok(['create', 'namespace', ns]);
    await kubectl.ok(['apply', '-f', '-'], { input: [manifest('a', ns), manifest('b', ns)].join('---\n') });
    await kubectl.ok(['apply', '-f', '-'], { input: backupOnly(ns, 'operator', 'a') });
    // The built-in view role, which aggregates strongroom-view from apiservice/base/user-roles.yaml.
    await kubectl.ok(['create', 'rolebinding', 'viewer', '-n', ns, '--clusterrole=view', '--user=viewer']);
    operator = kubectlFor(await cluster.controlPlane.writeKubeconfig('operator'));
    viewer = kubectlFor(await cluster.controlPlane.writeKubeconfig('viewer'));
  });
  after(async () => {
    await operator?.close();
    await viewer?.close();
  });

  const canI = async (client: Kubectl, args: string[]) => (await client.run(['auth', 'can-i', ...args, '-n', ns])).stdout.trim();

  it('lets a user bound to create databases/backup for [a] back up a, not b, and delete neither', async () => {
    assert.equal(await canI(operator, ['create', 'databases/a', '--subresource=backup']), 'yes');
    assert.equal(await canI(operator, ['create', 'databases/b', '--subresource=backup']), 'no');
    assert.equal(await canI(operator, ['delete', 'databases/a']), 'no');
    assert.equal(await canI(operator, ['delete', 'databases/b']), 'no');

    const body = operator.file('empty.json', '{}');
    const backup = JSON.parse(await operator.ok(['create', '--raw', `${GV}/namespaces/${ns}/databases/a/backup`, '-f', body]));
    assert.deepEqual([backup.kind, backup.spec.databaseName], ['Backup', 'a']);
    assertFailed(
      await operator.run(['create', '--raw', `${GV}/namespaces/${ns}/databases/b/backup`, '-f', body]),
      /User "operator" cannot create resource "databases\/backup" in API group "strongroom\.dev"/,
    );
    for (const name of ['a', 'b']) {
      assertFailed(await operator.run(['delete', 'db', name, '-n', ns]), /User "operator" cannot delete resource "databases"/);
    }
    assert.equal(await jsonpath(['db', '-n', ns], '{.items[*].metadata.name}'), 'a b');
  });

  it('lets the built-in view role read databases (strongroom-view is aggregated into it) and nothing more', async () => {
    assert.equal(await viewer.ok(['get', 'db', '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}']), 'a b');
    assert.equal(await canI(viewer, ['list', 'backups']), 'yes');
    assert.equal(await canI(viewer, ['create', 'databases/a', '--subresource=backup']), 'no');
    assertFailed(await viewer.run(['scale', 'db', 'a', '-n', ns, '--replicas=2']), /cannot (patch|update) resource "databases\/scale"/);
  });
});

describe('Strongroom\'s own port', () => {
  const ns = 'direct';
  const list = `${GV}/namespaces/${ns}/databases`;
  const forged = { 'x-remote-user': 'system:admin', 'x-remote-group': 'system:masters' };
  let frontProxy: KeyPair;

  before(async () => {
    await kubectl.ok(['create', 'namespace', ns]);
    await kubectl.ok(['apply', '-f', '-'], { input: manifest('a', ns) });
    const { pki } = cluster.controlPlane;
    frontProxy = { certPem: await readFile(pki.proxyClientCert, 'utf8'), keyPem: await readFile(pki.proxyClientKey, 'utf8') };
  });

  const call = (method: string, path: string, client?: KeyPair, headers: Record<string, string> = {}, body?: unknown): Promise<Response> =>
    httpsRequest({ caPem: cluster.strongroomCAPem, client }, method, `${cluster.strongroomURL}${path}`, body, headers);

  const assertStatus = (response: Response, code: number, message?: RegExp) => {
    assert.equal(response.status, code, response.body);
    const status = JSON.parse(response.body);
    assert.deepEqual([status.kind, status.code], ['Status', code]);
    if (message) assert.match(status.message, message);
  };

  it('answers 401 without credentials', async () => {
    assertStatus(await call('GET', list), 401);
  });

  it('ignores X-Remote-User and X-Remote-Group without the front-proxy certificate: 401', async () => {
    assertStatus(await call('GET', list, undefined, forged), 401);
  });

  it('ignores them behind a client certificate of the cluster CA named like the front proxy: that is just a user, 403', async () => {
    const lookalike = cluster.controlPlane.clientCertificate(cluster.controlPlane.proxyClientName);
    assertStatus(await call('GET', list, lookalike, forged), 403, /User "front-proxy-client" cannot list resource "databases"/);
  });

  it('answers 403 to an authenticated user without permission: client certificate and ServiceAccount token', async () => {
    assertStatus(await call('GET', list, cluster.controlPlane.clientCertificate('stranger', ['strangers'])), 403, /User "stranger" cannot list/);
    await kubectl.ok(['create', 'serviceaccount', 'robot', '-n', ns]);
    const token = (await kubectl.ok(['create', 'token', 'robot', '-n', ns])).trim();
    assertStatus(await call('GET', list, undefined, { authorization: `Bearer ${token}` }), 403, /User "system:serviceaccount:direct:robot" cannot list/);
  });

  it('trusts the headers behind the aggregator\'s front-proxy certificate', async () => {
    assert.equal((await call('GET', list, frontProxy, forged)).status, 200);
  });

  it('authorizes the subresource and the name: the aggregator\'s user may back up a only', async () => {
    await kubectl.ok(['apply', '-f', '-'], { input: manifest('b', ns) });
    await kubectl.ok(['apply', '-f', '-'], { input: backupOnly(ns, 'operator', 'a') });
    const asOperator = { 'x-remote-user': 'operator' };
    assert.equal((await call('POST', `${GV}/namespaces/${ns}/databases/a/backup`, frontProxy, asOperator, {})).status, 201);
    assertStatus(
      await call('POST', `${GV}/namespaces/${ns}/databases/b/backup`, frontProxy, asOperator, {}),
      403,
      /User "operator" cannot create resource "databases\/backup" in API group "strongroom\.dev" in the namespace "direct"/,
    );
    assertStatus(await call('DELETE', `${GV}/namespaces/${ns}/databases/a`, frontProxy, asOperator), 403);
  });
});
