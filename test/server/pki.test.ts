import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import {
  certificateSubject,
  createCA,
  ensureStandalonePKI,
  issueClientCert,
  issueServingCert,
  parseCertificateBundle,
  STANDALONE_SERVING_NAMES,
  type CertKeyPair,
} from '../../src/server/pki.ts';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 86_400_000;

/** Years between notBefore and notAfter, to the day. */
function lifetimeDays(cert: X509Certificate): number {
  return Math.round((cert.validToDate.getTime() - cert.validFromDate.getTime()) / DAY_MS);
}

/** SKI and AKI key identifiers, hex (Node's X509Certificate does not expose them). */
function keyIdentifiers(pem: string): { ski?: string; aki?: string } {
  const cert = forge.pki.certificateFromPem(pem);
  const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  const aki = cert.getExtension('authorityKeyIdentifier') as { value?: string } | undefined;
  // AKI is SEQUENCE { [0] keyIdentifier }: skip the two tag/length pairs.
  return { ski: ski?.subjectKeyIdentifier, aki: aki?.value ? forge.util.bytesToHex(aki.value.slice(4)) : undefined };
}

describe('issuing certificates', () => {
  let ca: CertKeyPair;
  let serving: CertKeyPair;
  let client: CertKeyPair;
  before(async () => {
    ca = await createCA('test-ca');
    serving = await issueServingCert(ca, { dnsNames: ['localhost', 'api.demo.svc'], ipAddresses: ['127.0.0.1', '::1'] });
    client = await issueClientCert(ca, { commonName: 'alice', organizations: ['system:masters', 'team-a'] });
  });

  it('makes a self-signed CA valid for ten years', () => {
    const cert = new X509Certificate(ca.certPem);
    assert.equal(cert.ca, true);
    assert.ok(cert.checkIssued(cert));
    assert.ok(cert.verify(cert.publicKey));
    assert.equal(cert.subject, 'CN=test-ca');
    assert.ok(Math.abs(lifetimeDays(cert) - 3650) <= 1, `lifetime ${lifetimeDays(cert)} days`);
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('issues a serving certificate for its DNS names and IPs, with serverAuth only', () => {
    const cert = new X509Certificate(serving.certPem);
    const caCert = new X509Certificate(ca.certPem);
    assert.ok(cert.checkIssued(caCert));
    assert.ok(cert.verify(caCert.publicKey));
    assert.equal(cert.ca, false);
    assert.equal(cert.checkHost('api.demo.svc'), 'api.demo.svc');
    assert.equal(cert.checkHost('localhost'), 'localhost');
    assert.equal(cert.checkHost('other.svc'), undefined);
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkIP('10.0.0.1'), undefined);
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH]);
    assert.ok(Math.abs(lifetimeDays(cert) - 365) <= 1);
  });

  it('issues a client certificate with CN as user, O as groups and clientAuth only', () => {
    const cert = new X509Certificate(client.certPem);
    assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
    assert.deepEqual(certificateSubject(cert), { commonName: 'alice', organizations: ['system:masters', 'team-a'] });
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.equal(cert.subjectAltName, undefined);
  });

  it('gives every certificate a positive serial number, its own SKI and its issuer\'s SKI as AKI', () => {
    const caSKI = keyIdentifiers(ca.certPem).ski;
    assert.match(caSKI ?? '', /^[0-9a-f]{40}$/);
    const serials = new Set<string>();
    for (const pair of [ca, serving, client]) {
      const cert = new X509Certificate(pair.certPem);
      // DER INTEGER: the first content byte decides the sign.
      assert.ok(parseInt(cert.serialNumber.slice(0, 2), 16) < 0x80, cert.serialNumber);
      serials.add(cert.serialNumber);
      assert.equal(keyIdentifiers(pair.certPem).aki, caSKI);
    }
    assert.equal(serials.size, 3);
    assert.notEqual(keyIdentifiers(client.certPem).ski, caSKI);
  });

  it('does not let a leaf outlive its CA', async () => {
    const leaf = new X509Certificate((await issueClientCert(ca, { commonName: 'bob', organizations: [] })).certPem);
    assert.ok(leaf.validToDate <= new X509Certificate(ca.certPem).validToDate);
  });

  it('refuses a serving certificate without names', async () => {
    await assert.rejects(issueServingCert(ca, { dnsNames: [], ipAddresses: [] }), /at least one DNS name or IP/);
  });

  it('reads every certificate of a PEM bundle', () => {
    const bundle = parseCertificateBundle(`${ca.certPem}\n${client.certPem}`);
    assert.deepEqual(
      bundle.map((c) => c.subject),
      ['CN=test-ca', 'CN=alice\nO=system:masters\nO=team-a'],
    );
    assert.deepEqual(parseCertificateBundle('no certificates here'), []);
  });
});

describe('ensureStandalonePKI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-pki-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates serving and client CAs, a serving certificate for every standalone name, and the admin certificate', async () => {
    const pki = await ensureStandalonePKI(dir);
    const servingCA = new X509Certificate(pki.servingCAPem);
    const clientCA = new X509Certificate(pki.clientCAPem);
    const serving = new X509Certificate(readFileSync(pki.servingCertFile));
    const admin = new X509Certificate(pki.adminCertPem);

    assert.notEqual(servingCA.fingerprint256, clientCA.fingerprint256, 'separate CAs');
    assert.ok(serving.checkIssued(servingCA) && serving.verify(servingCA.publicKey));
    for (const name of STANDALONE_SERVING_NAMES.dnsNames) assert.equal(serving.checkHost(name), name);
    assert.equal(serving.checkHost('strongroom.strongroom-system.svc'), 'strongroom.strongroom-system.svc');
    for (const ip of ['127.0.0.1', '::1']) assert.equal(serving.checkIP(ip), ip);

    assert.ok(admin.checkIssued(clientCA) && admin.verify(clientCA.publicKey));
    assert.ok(!admin.checkIssued(servingCA));
    assert.deepEqual(certificateSubject(admin), { commonName: 'strongroom-admin', organizations: ['system:masters'] });
    assert.deepEqual(admin.keyUsage, [CLIENT_AUTH]);

    assert.equal(readFileSync(pki.adminKeyFile, 'utf8'), pki.adminKeyPem);
    assert.equal(readFileSync(pki.servingCAFile, 'utf8'), pki.servingCAPem);
    for (const key of ['serving-ca.key', 'serving.key', 'client-ca.key', 'admin.key']) {
      assert.equal(statSync(join(dir, key)).mode & 0o777, 0o600, key);
    }
  });

  it('reuses valid files', async () => {
    const first = await ensureStandalonePKI(dir);
    const second = await ensureStandalonePKI(dir);
    assert.deepEqual(second, first);
  });

  it('replaces a broken leaf but keeps its CA, so existing trust stays valid', async () => {
    const before = await ensureStandalonePKI(dir);
    const servingBefore = readFileSync(before.servingCertFile, 'utf8');
    writeFileSync(before.adminCertFile, 'garbage');
    unlinkSync(before.servingKeyFile);
    const after = await ensureStandalonePKI(dir);
    assert.equal(after.servingCAPem, before.servingCAPem);
    assert.equal(after.clientCAPem, before.clientCAPem);
    assert.notEqual(after.adminCertPem, before.adminCertPem);
    const servingAfter = new X509Certificate(readFileSync(after.servingCertFile));
    assert.notEqual(servingAfter.fingerprint256, new X509Certificate(servingBefore).fingerprint256);
    assert.ok(servingAfter.checkPrivateKey(createPrivateKey(readFileSync(after.servingKeyFile))));
    assert.ok(new X509Certificate(after.adminCertPem).checkIssued(new X509Certificate(after.clientCAPem)));
  });

  it('replaces a certificate whose key does not match, and everything a replaced CA signed', async () => {
    const before = await ensureStandalonePKI(dir);
    // The admin key in place of the client CA key: the CA no longer matches its key.
    writeFileSync(join(dir, 'client-ca.key'), before.adminKeyPem);
    const after = await ensureStandalonePKI(dir);
    assert.notEqual(after.clientCAPem, before.clientCAPem);
    assert.notEqual(after.adminCertPem, before.adminCertPem);
    assert.ok(new X509Certificate(after.adminCertPem).checkIssued(new X509Certificate(after.clientCAPem)));
    assert.equal(after.servingCAPem, before.servingCAPem, 'the serving side is untouched');
  });
});
