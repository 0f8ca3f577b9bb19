import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import type { TLSSocket } from 'node:tls';
import { StatusError } from '../../src/api/errors.ts';
import {
  chainAuthenticators,
  requestHeaderAuthenticator,
  verifyClientCertificate,
  x509Authenticator,
  type Authenticator,
  type RequestHeaderConfig,
  type UserInfo,
} from '../../src/server/authentication.ts';
import { createCA, issueClientCert, issueServingCert, type CertKeyPair } from '../../src/server/pki.ts';
import { loadServingOptions } from '../../src/server/tls.ts';

/** What the test server saw: the authenticator's outcome and any identity headers left on the request. */
interface Outcome {
  user?: UserInfo | null;
  error?: { message: string; code?: number; cause?: string };
  tlsAuthorized: boolean;
  leftHeaders: string[];
}

const DAY_MS = 86_400_000;

let servingCA: CertKeyPair;
let clientCA: CertKeyPair;
let otherCA: CertKeyPair;
let frontProxyCA: CertKeyPair;
let admin: CertKeyPair;
let stranger: CertKeyPair;
let serverAuthOnly: CertKeyPair;
let frontProxy: CertKeyPair;
let frontProxyWrongName: CertKeyPair;
let unadvertisedRoot: CertKeyPair;
let intermediate: CertKeyPair;
let viaIntermediate: CertKeyPair;

let server: Server;
let authenticator: Authenticator;

before(async () => {
  [servingCA, clientCA, otherCA, frontProxyCA, unadvertisedRoot] = await Promise.all(
    ['serving-ca', 'client-ca', 'other-ca', 'front-proxy-ca', 'unadvertised-root'].map((name) => createCA(name)),
  );
  intermediate = await createCA('intermediate-ca', unadvertisedRoot);
  viaIntermediate = await issueClientCert(intermediate, { commonName: 'carol', organizations: ['team-c'] });
  [admin, stranger, serverAuthOnly, frontProxy, frontProxyWrongName] = await Promise.all([
    issueClientCert(clientCA, { commonName: 'strongroom-admin', organizations: ['system:masters'] }),
    issueClientCert(otherCA, { commonName: 'mallory', organizations: ['system:masters'] }),
    issueServingCert(clientCA, { commonName: 'a-server', dnsNames: ['localhost'], ipAddresses: [] }),
    issueClientCert(frontProxyCA, { commonName: 'front-proxy-client', organizations: [] }),
    issueClientCert(frontProxyCA, { commonName: 'not-the-aggregator', organizations: [] }),
  ]);
  const serving = await issueServingCert(servingCA, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  server = createServer(
    {
      key: serving.keyPem,
      cert: serving.certPem,
      // other-ca is here so OpenSSL "authorizes" mallory: socket.authorized must not be what decides.
      ca: [clientCA.certPem, frontProxyCA.certPem, otherCA.certPem],
      requestCert: true,
      rejectUnauthorized: false,
    },
    async (req, res) => {
      const outcome: Partial<Outcome> = { tlsAuthorized: (req.socket as TLSSocket).authorized };
      try {
        outcome.user = (await authenticator.authenticate(req)) ?? null;
      } catch (error) {
        const e = error as Error & { code?: number };
        outcome.error = { message: e.message, code: e.code, cause: e.cause instanceof Error ? e.cause.message : undefined };
      }
      const isIdentity = (name: string) => name.toLowerCase().startsWith('x-remote-');
      outcome.leftHeaders = [
        ...Object.keys(req.headers).filter(isIdentity),
        ...Object.keys(req.headersDistinct).filter(isIdentity),
        ...req.rawHeaders.filter(isIdentity),
      ];
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(outcome));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(() => server.close());

/** One request on a fresh connection, presenting `cert` if given. */
function call(cert: CertKeyPair | undefined, headers: OutgoingHttpHeaders = {}): Promise<Outcome> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/apis/strongroom.dev/v1alpha1',
        ca: servingCA.certPem,
        agent: false,
        headers,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(JSON.parse(body) as Outcome));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('x509Authenticator in a chain, over real TLS', () => {
  before(() => {
    authenticator = chainAuthenticators([x509Authenticator({ ca: [clientCA.certPem] })]);
  });

  it('(a) authenticates the admin certificate as strongroom-admin in system:masters, plus system:authenticated', async () => {
    const outcome = await call(admin);
    assert.deepEqual(outcome.user, { name: 'strongroom-admin', groups: ['system:masters', 'system:authenticated'], extra: {} });
  });

  it('(b) refuses a certificate from another CA with 401, although the TLS layer accepted it', async () => {
    const outcome = await call(stranger);
    assert.equal(outcome.tlsAuthorized, true);
    assert.equal(outcome.user, undefined);
    assert.equal(outcome.error?.code, 401);
    assert.equal(outcome.error?.message, 'Unauthorized');
    assert.match(outcome.error?.cause ?? '', /signed by unknown authority/);
  });

  it('(c) answers undefined without a client certificate, so the caller decides (401, or another authenticator)', async () => {
    const outcome = await call(undefined);
    assert.equal(outcome.user, null);
    assert.equal(outcome.error, undefined);
  });

  it('refuses a certificate from the right CA that is not for client authentication', async () => {
    const outcome = await call(serverAuthOnly);
    assert.match(outcome.error?.cause ?? '', /incompatible key usage/);
  });

  it('follows the intermediates the client sends up to a CA of the bundle', async () => {
    authenticator = chainAuthenticators([x509Authenticator({ ca: [unadvertisedRoot.certPem] })]);
    const outcome = await call({ certPem: viaIntermediate.certPem + intermediate.certPem, keyPem: viaIntermediate.keyPem });
    assert.deepEqual(outcome.user, { name: 'carol', groups: ['team-c', 'system:authenticated'], extra: {} });
  });

  it('verifies against the bundle the function returns now', async () => {
    let bundle = [clientCA.certPem];
    authenticator = chainAuthenticators([x509Authenticator({ ca: () => bundle })]);
    assert.equal((await call(admin)).user?.name, 'strongroom-admin');
    bundle = [`${otherCA.certPem}\n${frontProxyCA.certPem}`];
    assert.equal((await call(stranger)).user?.name, 'mallory');
    assert.equal((await call(admin)).error?.code, 401);
  });
});

describe('requestHeaderAuthenticator', () => {
  let config: RequestHeaderConfig;
  const settings = {
    allowedNames: ['front-proxy-client'],
    usernameHeaders: ['X-Remote-User'],
    uidHeaders: ['X-Remote-Uid'],
    groupHeaders: ['X-Remote-Group'],
    extraHeaderPrefixes: ['X-Remote-Extra-'],
  };
  const identity = {
    'X-Remote-User': 'alice',
    'X-Remote-Uid': 'uid-1',
    'X-Remote-Group': ['team-a', 'system:masters'],
    'X-Remote-Extra-Acme.com%2Fproject': 'p1',
    'X-Remote-Extra-Scopes': ['read', 'write'],
  };
  before(() => {
    config = { ...settings, ca: [frontProxyCA.certPem] };
    // The order k8s.io/apiserver uses: front proxy first, then client certificates.
    authenticator = chainAuthenticators([requestHeaderAuthenticator(config), x509Authenticator({ ca: [clientCA.certPem] })]);
  });

  it('takes user, uid, every group line and unescaped extras from a verified front proxy, and strips the headers', async () => {
    const outcome = await call(frontProxy, identity);
    assert.deepEqual(outcome.user, {
      name: 'alice',
      uid: 'uid-1',
      groups: ['team-a', 'system:masters', 'system:authenticated'],
      extra: { 'acme.com/project': ['p1'], scopes: ['read', 'write'] },
    });
    assert.deepEqual(outcome.leftHeaders, []);
  });

  it('ignores forged headers without a client certificate, and strips them', async () => {
    const outcome = await call(undefined, identity);
    assert.equal(outcome.user, null);
    assert.deepEqual(outcome.leftHeaders, []);
  });

  it('ignores forged headers next to a client certificate: the caller is who the certificate says', async () => {
    const outcome = await call(admin, identity);
    assert.deepEqual(outcome.user, { name: 'strongroom-admin', groups: ['system:masters', 'system:authenticated'], extra: {} });
  });

  it('refuses forged headers next to a certificate from an unknown CA', async () => {
    const outcome = await call(stranger, identity);
    assert.equal(outcome.error?.code, 401);
    assert.deepEqual(outcome.leftHeaders, []);
  });

  it('refuses a front-proxy certificate whose CN is not in allowedNames', async () => {
    const outcome = await call(frontProxyWrongName, identity);
    assert.equal(outcome.error?.code, 401);
    assert.match(outcome.error?.cause ?? '', /cn=not-the-aggregator is not in the allowed list/);
  });

  it('accepts any CN from the front-proxy CA when allowedNames is empty', async () => {
    authenticator = requestHeaderAuthenticator({ ...config, allowedNames: [] });
    assert.equal((await call(frontProxyWrongName, identity)).user?.name, 'alice');
  });

  it('is not the one to answer when a verified front proxy sends no user', async () => {
    authenticator = requestHeaderAuthenticator(config);
    const outcome = await call(frontProxy, { 'X-Remote-Group': 'team-a' });
    assert.equal(outcome.user, null);
    assert.deepEqual(outcome.leftHeaders, []);
  });

  it('reads configured header names: the first non-empty user header, groups from all group headers', async () => {
    authenticator = requestHeaderAuthenticator({
      ...config,
      usernameHeaders: ['X-User', 'X-Remote-User'],
      uidHeaders: [],
      groupHeaders: ['X-Groups', 'X-Remote-Group'],
      extraHeaderPrefixes: ['X-Extra-', 'X-Remote-Extra-'],
    });
    const outcome = await call(frontProxy, {
      'X-User': '',
      'X-Remote-User': 'bob',
      'X-Remote-Uid': 'ignored-without-uid-headers',
      'X-Groups': ['g1', ''],
      'X-Remote-Group': 'g2',
      'X-Extra-Reason': 'a',
      'X-Remote-Extra-Reason': 'b',
      'X-Remote-Extra-Bad%zzKey': 'kept',
    });
    assert.deepEqual(outcome.user, { name: 'bob', groups: ['g1', 'g2'], extra: { reason: ['a', 'b'], 'bad%zzkey': ['kept'] } });
    assert.deepEqual(outcome.leftHeaders, [], 'configured and standard names are both stripped');
  });

  it('ignores and strips the headers while there is no configuration yet', async () => {
    authenticator = requestHeaderAuthenticator(() => undefined);
    const outcome = await call(frontProxy, identity);
    assert.equal(outcome.user, null);
    assert.deepEqual(outcome.leftHeaders, []);
  });
});

describe('chainAuthenticators', () => {
  const fixed = (result: UserInfo | undefined | Error): Authenticator => ({
    async authenticate() {
      if (result instanceof Error) throw result;
      return result;
    },
  });
  const req = {} as never;
  const cases: Array<{ name: string; chain: Authenticator[]; want: UserInfo | undefined | RegExp }> = [
    { name: 'empty chain', chain: [], want: undefined },
    { name: 'nobody answers', chain: [fixed(undefined), fixed(undefined)], want: undefined },
    {
      name: 'the first user wins, failures before it do not matter',
      chain: [fixed(new Error('bad cert')), fixed({ name: 'u', groups: ['g'], extra: {} }), fixed({ name: 'v', groups: [], extra: {} })],
      want: { name: 'u', groups: ['g', 'system:authenticated'], extra: {} },
    },
    { name: 'a failure and nobody else', chain: [fixed(undefined), fixed(new Error('bad cert'))], want: /bad cert/ },
    {
      name: 'system:authenticated is not added twice',
      chain: [fixed({ name: 'u', groups: ['system:authenticated'], extra: {} })],
      want: { name: 'u', groups: ['system:authenticated'], extra: {} },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const result = chainAuthenticators(c.chain).authenticate(req);
      if (c.want instanceof RegExp) {
        const error = await result.then(
          () => assert.fail('expected a rejection'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof StatusError);
        assert.equal(error.code, 401);
        assert.match(String((error.cause as Error).message), c.want);
      } else {
        assert.deepEqual(await result, c.want);
      }
    });
  }
});

describe('verifyClientCertificate', () => {
  it('builds the chain through CA intermediates only', () => {
    const [leaf, int, root] = [viaIntermediate, intermediate, unadvertisedRoot].map((p) => new X509Certificate(p.certPem));
    assert.deepEqual(
      verifyClientCertificate([leaf!, int!], [root!], new Date()).map((c) => c.subject),
      ['CN=carol\nO=team-c', 'CN=intermediate-ca', 'CN=unadvertised-root'],
    );
    assert.equal(verifyClientCertificate([leaf!], [int!], new Date()).length, 2, 'an intermediate in the bundle is trusted itself');
    assert.throws(() => verifyClientCertificate([leaf!], [root!], new Date()), /unknown authority/);
  });

  it('does not let a leaf act as a CA', async () => {
    const signedByLeaf = await issueClientCert(admin, { commonName: 'escalated', organizations: ['system:masters'] });
    const chain = [signedByLeaf, admin].map((p) => new X509Certificate(p.certPem));
    assert.throws(() => verifyClientCertificate(chain, [new X509Certificate(clientCA.certPem)], new Date()), /unknown authority/);
  });

  it('checks validity dates of the chain', () => {
    const leaf = new X509Certificate(admin.certPem);
    const roots = [new X509Certificate(clientCA.certPem)];
    assert.equal(verifyClientCertificate([leaf], roots, new Date()).length, 2);
    assert.throws(() => verifyClientCertificate([leaf], roots, new Date(Date.now() + 400 * DAY_MS)), /expired or is not yet valid/);
    assert.throws(() => verifyClientCertificate([leaf], roots, new Date(Date.now() - 2 * DAY_MS)), /expired or is not yet valid/);
  });

  it('finds the issuer among several roots and refuses a leaf none of them signed', () => {
    const roots = [otherCA, frontProxyCA, clientCA].map((ca) => new X509Certificate(ca.certPem));
    const [, issuer] = verifyClientCertificate([new X509Certificate(admin.certPem)], roots, new Date());
    assert.equal(issuer?.subject, 'CN=client-ca');
    assert.throws(
      () => verifyClientCertificate([new X509Certificate(admin.certPem)], roots.slice(0, 2), new Date()),
      /signed by unknown authority/,
    );
  });
});

describe('client certificates from an intermediate of the client CA, over the server TLS settings', () => {
  let dir: string;
  let tlsServer: Server;
  let clientRoot: CertKeyPair;
  let clientIntermediate: CertKeyPair;
  let dave: CertKeyPair;
  before(async () => {
    clientRoot = await createCA('client-root');
    clientIntermediate = await createCA('client-intermediate', clientRoot);
    dave = await issueClientCert(clientIntermediate, { commonName: 'dave', organizations: ['team-d'] });
    const serving = await issueServingCert(servingCA, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    dir = mkdtempSync(join(tmpdir(), 'strongroom-auth-'));
    writeFileSync(join(dir, 'tls.crt'), serving.certPem);
    writeFileSync(join(dir, 'tls.key'), serving.keyPem);
    writeFileSync(join(dir, 'ca.crt'), clientRoot.certPem);
    // The root is in the TLS ca list, so OpenSSL's own verification would succeed and hide the intermediate.
    const tls = loadServingOptions({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCAFiles: [join(dir, 'ca.crt')] });
    const x509 = chainAuthenticators([x509Authenticator({ ca: () => tls.clientCAs() })]);
    tlsServer = createServer(tls.options, async (req, res) => {
      let outcome: unknown;
      try {
        outcome = { user: await x509.authenticate(req) };
      } catch (error) {
        outcome = { error: (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error) };
      }
      res.end(JSON.stringify(outcome));
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    tlsServer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const callTLS = (cert: CertKeyPair, maxVersion: 'TLSv1.2' | 'TLSv1.3') =>
    new Promise<{ user?: UserInfo; error?: string }>((resolve, reject) => {
      const { port } = tlsServer.address() as AddressInfo;
      const req = request({ host: '127.0.0.1', port, path: '/', ca: servingCA.certPem, agent: false, cert: cert.certPem, key: cert.keyPem, maxVersion }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      req.end();
    });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`accepts the intermediate sent in the handshake (${version})`, async () => {
      const outcome = await callTLS({ certPem: dave.certPem + clientIntermediate.certPem, keyPem: dave.keyPem }, version);
      assert.deepEqual(outcome.user, { name: 'dave', groups: ['team-d', 'system:authenticated'], extra: {} });
    });
  }

  it('still refuses the leaf without its intermediate, and certificates of other CAs', async () => {
    assert.match((await callTLS(dave, 'TLSv1.3')).error ?? '', /unknown authority/);
    assert.match((await callTLS(stranger, 'TLSv1.3')).error ?? '', /unknown authority/);
    assert.equal((await callTLS(admin, 'TLSv1.3')).user, undefined);
  });
});

describe('verifyClientCertificate as Go x509.Verify', () => {
  /** A CA whose basicConstraints carry pathLenConstraint (the project's own CAs never set one). */
  function constrainedCA(pathLenConstraint: number): CertKeyPair {
    const keys = forge.pki.rsa.generateKeyPair(1024);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = '4d';
    cert.validity.notBefore = new Date(Date.now() - DAY_MS);
    cert.validity.notAfter = new Date(Date.now() + DAY_MS);
    const subject = [{ name: 'commonName', value: 'constrained-root' }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, pathLenConstraint, critical: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
  }

  it('honours a CA path length constraint', async () => {
    const x509 = (p: CertKeyPair) => new X509Certificate(p.certPem);
    const noIntermediates = constrainedCA(0);
    const direct = await issueClientCert(noIntermediates, { commonName: 'direct', organizations: [] });
    assert.equal(verifyClientCertificate([x509(direct)], [x509(noIntermediates)], new Date()).length, 2);
    const between = await createCA('between', noIntermediates);
    const below = await issueClientCert(between, { commonName: 'below', organizations: [] });
    assert.throws(() => verifyClientCertificate([x509(below), x509(between)], [x509(noIntermediates)], new Date()), /path length constraint/);
    const oneIntermediate = constrainedCA(1);
    const between1 = await createCA('between', oneIntermediate);
    const below1 = await issueClientCert(between1, { commonName: 'below', organizations: [] });
    assert.equal(verifyClientCertificate([x509(below1), x509(between1)], [x509(oneIntermediate)], new Date()).length, 3);
  });

  it('tries every chain: an intermediate for servers only does not hide a valid one', async () => {
    const root = await createCA('two-paths-root');
    const good = await createCA('two-paths-intermediate', root);
    const leaf = await issueClientCert(good, { commonName: 'erin', organizations: [] });
    // The same name and key as `good`, restricted to serverAuth: a chain through it fails the key usage check.
    const restricted = forge.pki.certificateFromPem(good.certPem);
    restricted.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    restricted.serialNumber = '5e';
    restricted.sign(forge.pki.privateKeyFromPem(root.keyPem), forge.md.sha256.create());
    const [x509Leaf, x509Restricted, x509Good, x509Root] = [leaf.certPem, forge.pki.certificateToPem(restricted), good.certPem, root.certPem].map((pem) => new X509Certificate(pem));
    assert.throws(() => verifyClientCertificate([x509Leaf!, x509Restricted!], [x509Root!], new Date()), /incompatible key usage/);
    const chain = verifyClientCertificate([x509Leaf!, x509Restricted!, x509Good!], [x509Root!], new Date());
    assert.equal(chain[1]!.fingerprint256, x509Good!.fingerprint256);
  });
});
