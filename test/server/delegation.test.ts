// Cluster mode: Strongroom delegates authentication, authorization and namespace lifecycle to a real kube-apiserver
// (the local control plane of test/cluster), using only the RBAC a real deployment grants it. The first part checks
// the pure pieces (settings parsing, caches, retries, review specs) without a cluster.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import pino from 'pino';
import { startControlPlane, type ControlPlane } from '../cluster/harness.ts';
import { kubectl } from '../cluster/kubectl.ts';
import { createCertificateAuthority, type KeyPair } from '../cluster/pki.ts';
import type { RequestAttributes } from '../../src/server/authorization.ts';
import { HealthChecks } from '../../src/server/health.ts';
import { renderKubeconfig } from '../../src/server/kubeconfig.ts';
import { issueClientCert } from '../../src/server/pki.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { parseClusterAuthentication } from '../../src/server/delegation/authenticationconfig.ts';
import { alwaysAllowGroups, loadClusterConfig, startDelegation } from '../../src/server/delegation/index.ts';
import { describeError, retryTransient } from '../../src/server/delegation/kubeapi.ts';
import { subjectAccessReviewSpec } from '../../src/server/delegation/subjectaccessreview.ts';
import { tokenReviewAuthenticator, type TokenReviewResult } from '../../src/server/delegation/tokenreview.ts';

const GV = '/apis/strongroom.dev/v1alpha1';
const databases = (namespace: string) => `${GV}/namespaces/${namespace}/databases`;
const database = (name: string, namespace: string) => ({
  apiVersion: 'strongroom.dev/v1alpha1',
  kind: 'Database',
  metadata: { name, namespace },
  spec: { engine: 'postgres' },
});
const silent = pino({ level: 'silent' });
const ca = createCertificateAuthority('delegation-test-ca');
const somePem = ca.certPem;

// ---------------------------------------------------------------------------------------------------------------
// Without a cluster

describe('the authentication ConfigMap', () => {
  const full = {
    'client-ca-file': somePem,
    'requestheader-client-ca-file': somePem,
    'requestheader-allowed-names': '["front-proxy-client"]',
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-uid-headers': '["X-Remote-Uid"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
  };
  const cases: Array<{ name: string; data: Record<string, string>; want?: ReturnType<typeof parseClusterAuthentication>; error?: RegExp }> = [
    {
      name: 'reads every key, lists from JSON',
      data: full,
      want: {
        clientCA: [somePem],
        requestHeader: {
          ca: [somePem],
          allowedNames: ['front-proxy-client'],
          usernameHeaders: ['X-Remote-User'],
          uidHeaders: ['X-Remote-Uid'],
          groupHeaders: ['X-Remote-Group'],
          extraHeaderPrefixes: ['X-Remote-Extra-'],
        },
      },
    },
    {
      name: 'has no front proxy without its CA',
      data: { 'client-ca-file': somePem, 'requestheader-allowed-names': '["x"]' },
      want: { clientCA: [somePem], requestHeader: undefined },
    },
    {
      name: 'treats absent lists as empty (any CN, no UID header)',
      data: { 'requestheader-client-ca-file': somePem, 'requestheader-username-headers': '["X-Remote-User"]' },
      want: {
        clientCA: [],
        requestHeader: { ca: [somePem], allowedNames: [], usernameHeaders: ['X-Remote-User'], uidHeaders: [], groupHeaders: [], extraHeaderPrefixes: [] },
      },
    },
    { name: 'refuses a list that is not JSON', data: { ...full, 'requestheader-allowed-names': 'front-proxy-client' }, error: /requestheader-allowed-names: not a JSON array/ },
    { name: 'refuses a list of non-strings', data: { ...full, 'requestheader-group-headers': '[1]' }, error: /requestheader-group-headers/ },
    { name: 'refuses a CA without a certificate', data: { ...full, 'client-ca-file': 'garbage' }, error: /client-ca-file: no PEM certificate/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error) assert.throws(() => parseClusterAuthentication(c.data), c.error);
      else assert.deepEqual(parseClusterAuthentication(c.data), c.want);
    });
  }
});

describe('the TokenReview authenticator', () => {
  const bearer = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  const alice: TokenReviewResult = { user: { name: 'alice', uid: '1', groups: ['devs'], extra: {} } };

  function fixture(answer: (token: string) => Promise<TokenReviewResult>) {
    let clock = 1_000_000;
    const reviewed: string[] = [];
    const authenticator = tokenReviewAuthenticator(
      (token) => {
        reviewed.push(token);
        return answer(token);
      },
      { successTTLMs: 10_000, failureTTLMs: 2_000, now: () => clock },
    );
    return { authenticator, reviewed, advance: (ms: number) => (clock += ms) };
  }

  it('leaves requests without a bearer token to others', async () => {
    const { authenticator, reviewed } = fixture(async () => alice);
    for (const header of [undefined, '', 'Basic abc', 'Bearer', 'Bearer ', 'bearer  two-spaces']) {
      assert.equal(await authenticator.authenticate(bearer(header)), undefined, String(header));
    }
    assert.deepEqual(reviewed, []);
  });

  it('remembers a valid token for the success TTL, then asks again', async () => {
    const { authenticator, reviewed, advance } = fixture(async () => alice);
    assert.deepEqual(await authenticator.authenticate(bearer('Bearer good')), alice.user);
    advance(10_000);
    assert.deepEqual(await authenticator.authenticate(bearer('bearer good')), alice.user);
    assert.equal(reviewed.length, 1);
    advance(1);
    await authenticator.authenticate(bearer('Bearer good'));
    assert.equal(reviewed.length, 2);
  });

  it('refuses an invalid token, remembering that for the shorter failure TTL', async () => {
    const { authenticator, reviewed, advance } = fixture(async () => ({ error: 'token has expired' }));
    await assert.rejects(authenticator.authenticate(bearer('Bearer bad')), /invalid bearer token: token has expired/);
    advance(2_000);
    await assert.rejects(authenticator.authenticate(bearer('Bearer bad')), /invalid bearer token/);
    assert.equal(reviewed.length, 1);
    advance(1);
    await assert.rejects(authenticator.authenticate(bearer('Bearer bad')));
    assert.equal(reviewed.length, 2);
  });

  it('does not remember a failure to get an answer, and shares one review among concurrent requests', async () => {
    let fail = true;
    const { authenticator, reviewed } = fixture(async () => {
      if (fail) throw new Error('connection refused');
      return alice;
    });
    await assert.rejects(authenticator.authenticate(bearer('Bearer t')), /connection refused/);
    fail = false;
    const users = await Promise.all([1, 2, 3].map(() => authenticator.authenticate(bearer('Bearer t'))));
    assert.deepEqual(users, [alice.user, alice.user, alice.user]);
    assert.equal(reviewed.length, 2);
  });
});

describe('SubjectAccessReview attributes', () => {
  const user = { name: 'alice', uid: 'u-1', groups: ['devs', 'system:authenticated'], extra: { scopes: ['a', 'b'] } };
  const base = { user, path: '', apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };

  it('carries every resource attribute, subresource and name included', () => {
    const attrs: RequestAttributes = {
      ...base,
      verb: 'create',
      resourceRequest: true,
      path: `${databases('ns')}/a/backup`,
      apiGroup: 'strongroom.dev',
      apiVersion: 'v1alpha1',
      resource: 'databases',
      subresource: 'backup',
      namespace: 'ns',
      name: 'a',
    };
    assert.deepEqual(subjectAccessReviewSpec(attrs), {
      user: 'alice',
      uid: 'u-1',
      groups: ['devs', 'system:authenticated'],
      extra: { scopes: ['a', 'b'] },
      resourceAttributes: { namespace: 'ns', verb: 'create', group: 'strongroom.dev', version: 'v1alpha1', resource: 'databases', subresource: 'backup', name: 'a' },
    });
  });

  it('carries path and lower-case method for non-resource requests', () => {
    const spec = subjectAccessReviewSpec({ ...base, verb: 'get', resourceRequest: false, path: '/openapi/v2' });
    assert.deepEqual(spec.nonResourceAttributes, { path: '/openapi/v2', verb: 'get' });
    assert.equal(spec.resourceAttributes, undefined);
  });

  it('lets system:masters through without asking, and asks for everyone else', async () => {
    const asked: string[] = [];
    const authorizer = alwaysAllowGroups({
      async authorize(attrs) {
        asked.push(attrs.user.name);
        return { allowed: false };
      },
    });
    const attrs = (name: string, groups: string[]): RequestAttributes => ({ ...base, user: { name, groups, extra: {} }, verb: 'get', resourceRequest: false, path: '/x' });
    assert.equal((await authorizer.authorize(attrs('root', ['system:masters']))).allowed, true);
    assert.equal((await authorizer.authorize(attrs('bob', ['devs']))).allowed, false);
    assert.deepEqual(asked, ['bob']);
  });
});

describe('calls to kube-apiserver', () => {
  const quick = { backoff: { initialMs: 1, factor: 1, jitter: 0 }, attempts: 3 };
  const failing = (errors: unknown[]) => {
    let calls = 0;
    return {
      call: async () => {
        const error = errors[calls++];
        if (error) throw error;
        return 'answer';
      },
      count: () => calls,
    };
  };

  it('retries 500, 504, 429 and reset connections, up to the step limit', async () => {
    const transient = [new ApiException(500, '', '', {}), new ApiException(429, '', '', {})];
    const recovering = failing(transient);
    assert.equal(await retryTransient(recovering.call, quick), 'answer');
    assert.equal(recovering.count(), 3);
    const reset = failing([Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }), new ApiException(504, '', '', {}), new ApiException(500, '', '', {})]);
    await assert.rejects(retryTransient(reset.call, quick), (error: unknown) => error instanceof ApiException && error.code === 500);
    assert.equal(reset.count(), 3);
  });

  it('does not retry an answer that will not change', async () => {
    const forbidden = failing([new ApiException(403, '', '{"kind":"Status","message":"no"}', {})]);
    await assert.rejects(retryTransient(forbidden.call, quick), (error: unknown) => describeError(error) === 'HTTP 403: no');
    assert.equal(forbidden.count(), 1);
  });
});

describe('finding the cluster', () => {
  it('uses --kubeconfig, else the pod service account, else none (standalone)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strongroom-cluster-config-'));
    const saved = { host: process.env['KUBERNETES_SERVICE_HOST'], port: process.env['KUBERNETES_SERVICE_PORT'] };
    try {
      const file = join(dir, 'kubeconfig');
      writeFileSync(file, renderKubeconfig({ server: 'https://127.0.0.1:6443', caPem: somePem, clientCertPem: somePem, clientKeyPem: ca.keyPem, contextName: 'x' }));
      assert.equal(loadClusterConfig(file)?.getCurrentCluster()?.server, 'https://127.0.0.1:6443');

      delete process.env['KUBERNETES_SERVICE_HOST'];
      assert.equal(loadClusterConfig(undefined, dir), undefined);
      process.env['KUBERNETES_SERVICE_HOST'] = '127.0.0.1';
      process.env['KUBERNETES_SERVICE_PORT'] = '6443';
      assert.equal(loadClusterConfig(undefined, dir), undefined, 'no service-account token: not in a pod');
      const accountDir = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
      mkdirSync(accountDir, { recursive: true });
      writeFileSync(join(accountDir, 'token'), 'token');
      assert.equal(loadClusterConfig(undefined, dir)?.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    } finally {
      for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against a real control plane

interface Identity {
  /** A client certificate to present. */
  cert?: KeyPair;
  headers?: Record<string, string | string[]>;
}

interface Answer {
  status: number;
  text: string;
  json: any;
}

const RBAC = 'rbac.authorization.k8s.io';
const SERVER_USER = 'strongroom-server';

function rules(resources: string[], verbs: string[], resourceNames?: string[]) {
  return [{ apiGroups: ['strongroom.dev'], resources, verbs, ...(resourceNames ? { resourceNames } : {}) }];
}
function role(namespace: string, name: string, roleRules: object[]) {
  return { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { namespace, name }, rules: roleRules };
}
function binding(namespace: string, roleName: string, subject: { kind: string; name: string; namespace?: string }, roleKind = 'Role') {
  const metadata = { namespace, name: `${roleName}-${subject.kind}-${subject.name}`.toLowerCase().replaceAll(':', '-') };
  const subjectRef = subject.kind === 'ServiceAccount' ? subject : { apiGroup: RBAC, ...subject };
  return { apiVersion: `${RBAC}/v1`, kind: 'RoleBinding', metadata, roleRef: { apiGroup: RBAC, kind: roleKind, name: roleName }, subjects: [subjectRef] };
}
const list = (items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

/**
 * What apiservice/ grants Strongroom's service account: review delegation, the ConfigMap, namespaces, and the
 * cluster's admission configuration (policies, bindings and webhooks), which readiness waits for too.
 */
function serverRBAC(user: string) {
  const subjects = [{ apiGroup: RBAC, kind: 'User', name: user }];
  return list([
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: `${user}:system:auth-delegator` },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects,
    },
    binding('kube-system', 'extension-apiserver-authentication-reader', { kind: 'User', name: user }),
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRole',
      metadata: { name: `${user}:namespaces` },
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
          verbs: ['get', 'list', 'watch'],
        },
      ],
    },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: `${user}:namespaces` },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: `${user}:namespaces` },
      subjects,
    },
  ]);
}

/** Polls `attempt` until `done` holds for its result (the cluster and its watches settle asynchronously). */
async function eventually<T>(what: string, attempt: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function run(file: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, (error, stdout, stderr) => (error ? reject(new Error(`${file}: ${stderr || error.message}`)) : resolve(stdout)));
    child.stdin?.end(input);
  });
}

describe('cluster mode against a real control plane', () => {
  let cluster: ControlPlane;
  let strongroom: RunningServer;
  let dataDir: string;
  let frontProxy: KeyPair;
  let clusterCA: KeyPair;
  const admin = (args: string[], input?: string) => kubectl(cluster.kubeconfigPath, args, input);
  /** The aggregator's way in: its front-proxy certificate and the user in headers. */
  const proxied = (user: string, groups: string[] = [], extra: Record<string, string> = {}): Identity => ({
    cert: frontProxy,
    headers: { 'X-Remote-User': user, 'X-Remote-Group': groups, ...extra },
  });
  const bearer = (token: string, headers: Record<string, string | string[]> = {}): Identity => ({ headers: { Authorization: `Bearer ${token}`, ...headers } });

  function call(method: string, path: string, identity: Identity = {}, body?: unknown): Promise<Answer> {
    const url = new URL(path, strongroom.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: strongroom.caPem,
          cert: identity.cert?.certPem,
          key: identity.cert?.keyPem,
          // A handshake per request: what a certificate proves must not carry over between identities.
          agent: false,
          headers: { ...identity.headers, ...(payload ? { 'Content-Type': 'application/json' } : {}) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, text, json });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The CA names in the server's TLS certificate request, as OpenSSL prints them. */
  async function advertisedCAs(): Promise<string[]> {
    const { port } = new URL(strongroom.url);
    const handshake = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`], '');
    const names = /Acceptable client certificate CA names\n([^]*?)\n(?:Requested Signature Algorithms|Client Certificate Types)/.exec(handshake);
    assert.ok(names, handshake);
    return names[1]!.split('\n').sort();
  }

  function assertStatus(answer: Answer, code: number, reason: string, message?: string) {
    assert.equal(answer.status, code, answer.text);
    assert.equal(answer.json?.kind, 'Status', answer.text);
    assert.equal(answer.json.reason, reason);
    if (message !== undefined) assert.equal(answer.json.message, message);
  }

  before(async () => {
    const started = performance.now();
    cluster = await startControlPlane();
    const controlPlaneSeconds = (performance.now() - started) / 1000;
    frontProxy = { certPem: readFileSync(cluster.pki.proxyClientCert, 'utf8'), keyPem: readFileSync(cluster.pki.proxyClientKey, 'utf8') };
    clusterCA = { certPem: readFileSync(cluster.pki.caCert, 'utf8'), keyPem: readFileSync(cluster.pki.caKey, 'utf8') };

    await admin(['apply', '-f', '-'], serverRBAC(SERVER_USER));
    await admin(['create', 'namespace', 'team-a']);
    await admin(['create', 'namespace', 'team-b']);
    await admin(['create', 'serviceaccount', 'robot', '-n', 'team-a']);
    await admin(
      ['apply', '-f', '-'],
      list([
        role('team-a', 'database-editor', rules(['databases'], ['get', 'list', 'create'])),
        role('team-a', 'database-viewer', rules(['databases'], ['get', 'list'])),
        role('team-a', 'backup-a', rules(['databases/backup'], ['create'], ['a'])),
        binding('team-a', 'database-editor', { kind: 'User', name: 'alice' }),
        binding('team-a', 'backup-a', { kind: 'User', name: 'alice' }),
        binding('team-a', 'database-viewer', { kind: 'Group', name: 'db-viewers' }),
        binding('team-a', 'database-viewer', { kind: 'ServiceAccount', name: 'robot', namespace: 'team-a' }),
        binding('team-a', 'database-viewer', { kind: 'User', name: 'carol' }),
      ]),
    );

    dataDir = mkdtempSync(join(tmpdir(), 'strongroom-delegation-'));
    const serverStarted = performance.now();
    strongroom = await startServer({
      bindAddress: '127.0.0.1',
      port: 0,
      dataDir,
      cluster: loadClusterConfig(await cluster.writeKubeconfig(SERVER_USER)),
      logger: silent,
    });
    console.log(`control plane ${controlPlaneSeconds.toFixed(1)}s, Strongroom in cluster mode ${((performance.now() - serverStarted) / 1000).toFixed(1)}s`);
  });

  after(async () => {
    await strongroom?.close();
    await cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is ready once the ConfigMap and namespaces are loaded, and writes no admin kubeconfig', async () => {
    const ready = await call('GET', '/readyz?verbose');
    assert.equal(ready.status, 200, ready.text);
    assert.match(ready.text, /\[\+\]extension-apiserver-authentication ok/);
    assert.match(ready.text, /\[\+\]informer-sync ok/);
    assert.equal(strongroom.kubeconfigPath, undefined);
    assert.equal(strongroom.adminCertPem, undefined);
    assert.ok(readFileSync(join(dataDir, 'pki', 'serving-ca.crt'), 'utf8').includes('BEGIN CERTIFICATE'), 'serving CA for the caBundle');
  });

  it('(a) takes the user from the front proxy and authorizes it with a SubjectAccessReview', async () => {
    const created = await call('POST', databases('team-a'), proxied('alice', ['devs']), database('a', 'team-a'));
    assert.equal(created.status, 201, created.text);
    assert.equal((await call('GET', `${databases('team-a')}/a`, proxied('alice'))).status, 200);
    assertStatus(
      await call('GET', `${databases('team-b')}/a`, proxied('alice', ['devs'])),
      403,
      'Forbidden',
      'databases.strongroom.dev "a" is forbidden: User "alice" cannot get resource "databases" in API group "strongroom.dev" in the namespace "team-b"',
    );
    // Groups travel too: db-viewers may list, but not create.
    assert.equal((await call('GET', databases('team-a'), proxied('bob', ['db-viewers']))).status, 200);
    assertStatus(
      await call('POST', databases('team-a'), proxied('bob', ['db-viewers']), database('b', 'team-a')),
      403,
      'Forbidden',
      'databases.strongroom.dev is forbidden: User "bob" cannot create resource "databases" in API group "strongroom.dev" in the namespace "team-a"',
    );
  });

  it('(a) reviews subresource and name: databases/backup on a, not on b', async () => {
    assert.equal((await call('POST', databases('team-a'), proxied('root', ['system:masters']), database('b', 'team-a'))).status, 201);
    const backup = await call('POST', `${databases('team-a')}/a/backup`, proxied('alice'));
    assert.equal(backup.status, 201, backup.text);
    assert.equal(backup.json.kind, 'Backup');
    assertStatus(
      await call('POST', `${databases('team-a')}/b/backup`, proxied('alice')),
      403,
      'Forbidden',
      'databases.strongroom.dev "b" is forbidden: User "alice" cannot create resource "databases/backup" in API group "strongroom.dev" in the namespace "team-a"',
    );
  });

  it('(a) lets the aggregator fetch OpenAPI and discovery without groups (system:authenticated is added)', async () => {
    assert.equal((await call('GET', '/openapi/v2', proxied('system:aggregator'))).status, 200);
    assert.equal((await call('GET', GV, proxied('system:kube-aggregator'))).status, 200);
    assertStatus(await call('GET', '/metrics', proxied('system:aggregator')), 403, 'Forbidden', 'forbidden: User "system:aggregator" cannot get path "/metrics"');
  });

  it('(b) never trusts identity headers without the front-proxy certificate', async () => {
    const forged = { 'X-Remote-User': 'root', 'X-Remote-Group': 'system:masters' };
    assertStatus(await call('GET', databases('team-a'), { headers: forged }), 401, 'Unauthorized');
    // A user certificate from the cluster CA is a user, not a proxy: the headers are dropped, the certificate speaks.
    const mallory = await issueClientCert(clusterCA, { commonName: 'mallory', organizations: [] });
    assertStatus(
      await call('GET', databases('team-a'), { cert: mallory, headers: forged }),
      403,
      'Forbidden',
      'databases.strongroom.dev is forbidden: User "mallory" cannot list resource "databases" in API group "strongroom.dev" in the namespace "team-a"',
    );
  });

  it('(d) authenticates a ServiceAccount token through TokenReview and authorizes it per RBAC', async () => {
    const token = (await admin(['create', 'token', 'robot', '-n', 'team-a'])).trim();
    assert.equal((await call('GET', databases('team-a'), bearer(token))).status, 200);
    assertStatus(
      await call('GET', databases('team-b'), bearer(token, { 'X-Remote-User': 'root', 'X-Remote-Group': 'system:masters' })),
      403,
      'Forbidden',
      'databases.strongroom.dev is forbidden: User "system:serviceaccount:team-a:robot" cannot list resource "databases" in API group "strongroom.dev" in the namespace "team-b"',
    );
    assertStatus(await call('GET', databases('team-a'), bearer(`${token}x`)), 401, 'Unauthorized');
  });

  it('(e) answers 401 without credentials, and serves health to anyone', async () => {
    assertStatus(await call('GET', databases('team-a')), 401, 'Unauthorized');
    assertStatus(await call('GET', '/openapi/v2'), 401, 'Unauthorized');
    assert.equal((await call('GET', '/healthz')).status, 200);
  });

  it('advertises the front-proxy CA and the client CA in the TLS certificate request', async () => {
    assert.deepEqual(await advertisedCAs(), ['CN = strongroom-local-ca', 'CN = strongroom-local-front-proxy-ca']);
  });

  it('accepts client certificates from client-ca-file: kubectl straight to Strongroom', async () => {
    const carol = await issueClientCert(clusterCA, { commonName: 'carol', organizations: [] });
    const file = join(dataDir, 'carol.kubeconfig');
    writeFileSync(file, renderKubeconfig({ server: strongroom.url, caPem: strongroom.caPem!, clientCertPem: carol.certPem, clientKeyPem: carol.keyPem, contextName: 'carol' }));
    // Full kubectl: discovery (non-resource reviews for /api and /apis), then the list.
    const output = await kubectl(file, ['get', 'databases', '-n', 'team-a', '-o', 'name']);
    assert.deepEqual(output.trim().split('\n').sort(), ['database.strongroom.dev/a', 'database.strongroom.dev/b']);
    await assert.rejects(kubectl(file, ['get', 'databases', '-n', 'team-b']), /User "carol" cannot list resource "databases"/);
  });

  it('(f) refuses creates in a missing namespace (404) and in a terminating one (403)', async () => {
    const root = proxied('root', ['system:masters']);
    assertStatus(await call('POST', databases('nowhere'), root, database('x', 'nowhere')), 404, 'NotFound', 'namespaces "nowhere" not found');

    // Created a moment ago: found by the live lookup if the cache has not seen it yet.
    await admin(['create', 'namespace', 'fresh']);
    assert.equal((await call('POST', databases('fresh'), root, database('x', 'fresh'))).status, 201);

    // A ConfigMap with a finalizer holds its namespace in Terminating.
    await admin(['create', 'namespace', 'doomed']);
    const hold = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hold', namespace: 'doomed', finalizers: ['strongroom.dev/test-hold'] } };
    await admin(['apply', '-f', '-'], JSON.stringify(hold));
    await admin(['delete', 'namespace', 'doomed', '--wait=false']);
    await admin(['wait', '--for=jsonpath={.status.phase}=Terminating', 'namespace/doomed', '--timeout=60s']);
    const create = (query = '') => call('POST', `${databases('doomed')}${query}`, root, database('x', 'doomed'));
    // Admission runs for dry runs too: they tell when the namespace cache has seen the change, without side effects.
    await eventually('the namespace cache sees doomed terminating', () => create('?dryRun=All'), (answer) => answer.status === 403);
    const refused = await create();
    assertStatus(refused, 403, 'Forbidden', 'databases.strongroom.dev "x" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    assert.deepEqual(refused.json.details.causes, [{ reason: 'NamespaceTerminating', message: 'namespace doomed is being terminated', field: 'metadata.namespace' }]);
  });

  it('(g) follows the ConfigMap without a restart: a new front-proxy CA, then a new allowed name; (c) other names stay out', async () => {
    const configMap = ['configmap', 'extension-apiserver-authentication', '-n', 'kube-system'];
    const data = JSON.parse(await admin(['get', ...configMap, '-o', 'jsonpath={.data}'])) as Record<string, string>;
    const patch = (values: Record<string, string>) => admin(['patch', ...configMap, '--type=merge', '-p', JSON.stringify({ data: values })]);
    const rotatedCA = createCertificateAuthority('delegation-test-front-proxy-ca');
    const proxy = rotatedCA.issue({ commonName: cluster.proxyClientName, usage: 'client' });
    const otherProxy = rotatedCA.issue({ commonName: 'other-proxy', usage: 'client' });
    const asRoot = (cert: KeyPair): Identity => ({ cert, headers: { 'X-Remote-User': 'root', 'X-Remote-Group': 'system:masters' } });
    assertStatus(await call('GET', databases('team-a'), asRoot(proxy)), 401, 'Unauthorized');

    await patch({ 'requestheader-client-ca-file': `${data['requestheader-client-ca-file']}${rotatedCA.certPem}` });
    await eventually('the new front-proxy CA is trusted', () => call('GET', databases('team-a'), asRoot(proxy)), (answer) => answer.status === 200);
    // (c) The right CA, but a CN outside requestheader-allowed-names.
    assertStatus(await call('GET', databases('team-a'), asRoot(otherProxy)), 401, 'Unauthorized');
    assert.ok((await advertisedCAs()).includes('CN = delegation-test-front-proxy-ca'), 'the TLS listener took the new CA too');

    const allowedNames = JSON.parse(data['requestheader-allowed-names']!) as string[];
    await patch({ 'requestheader-allowed-names': JSON.stringify([...allowedNames, 'other-proxy']) });
    await eventually('the new allowed name is accepted', () => call('GET', databases('team-a'), asRoot(otherProxy)), (answer) => answer.status === 200);
  });

  it('is not ready and cannot authorize while it may not read the cluster, and recovers once it may', async () => {
    const health = new HealthChecks();
    const delegation = startDelegation(loadClusterConfig(await cluster.writeKubeconfig('latecomer'))!, { logger: silent, health });
    const readyz = async () => (await health.serve('/readyz', new URLSearchParams('verbose')))!;
    const attrs: RequestAttributes = {
      user: { name: 'bob', groups: ['system:authenticated'], extra: {} },
      verb: 'list',
      resourceRequest: true,
      path: databases('team-a'),
      apiGroup: 'strongroom.dev',
      apiVersion: 'v1alpha1',
      resource: 'databases',
      subresource: '',
      namespace: 'team-a',
      name: '',
    };
    try {
      const notReady = await readyz();
      assert.equal(notReady.status, 500);
      assert.match(notReady.body, /\[-\]extension-apiserver-authentication failed/);
      assert.match(notReady.body, /\[-\]informer-sync failed/);
      // Upstream's answer to an authorizer error: 500, never an allow.
      await assert.rejects(delegation.authorizer.authorize(attrs), (error: any) => {
        assert.equal(error.code, 500);
        assert.equal(error.reason, 'InternalError');
        assert.match(error.message, /^Internal Server Error: "\/apis\/strongroom.dev\/v1alpha1\/namespaces\/team-a\/databases": HTTP 403: .*User "latecomer" cannot create resource "subjectaccessreviews"/);
        return true;
      });

      await admin(['apply', '-f', '-'], serverRBAC('latecomer'));
      assert.equal(await delegation.waitForSync(60_000), true);
      assert.equal((await readyz()).status, 200);
      assert.deepEqual(await delegation.authorizer.authorize(attrs), { allowed: false });
    } finally {
      await delegation.stop();
    }
  });
});
