// Certificates for a server that runs without a cluster: node-forge builds and signs X.509 (Node's crypto cannot),
// Node's X509Certificate checks what is on disk before reusing it.
import { createPublicKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { writeFileAtomic } from './files.ts';

/** A certificate and its private key, both PEM. A CA is one too. */
export interface CertKeyPair {
  certPem: string;
  keyPem: string;
}

export interface ServingCertOptions {
  /** Defaults to the first DNS name (or IP); clients match SANs only. */
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
}

export interface ClientCertOptions {
  /** Becomes the user name. */
  commonName: string;
  /** Become the groups. */
  organizations: string[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const CA_LIFETIME_MS = 3650 * DAY_MS;
const LEAF_LIFETIME_MS = 365 * DAY_MS;
/** Certificates on disk closer than this to expiry are replaced rather than reused. */
const RENEW_BEFORE_MS = 30 * DAY_MS;
/** Tolerates clocks of peers that run slightly behind ours (k8s.io/client-go/util/cert backdates by an hour too). */
const BACKDATE_MS = HOUR_MS;

const generateRsaKeyPair = promisify(generateKeyPair);

/** A self-signed CA, or an intermediate CA when `issuer` is given. */
export async function createCA(commonName: string, issuer?: CertKeyPair): Promise<CertKeyPair> {
  return sign(issuer, {
    subject: [{ name: 'commonName', value: commonName }],
    lifetimeMs: CA_LIFETIME_MS,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
}

export async function issueServingCert(ca: CertKeyPair, options: ServingCertOptions): Promise<CertKeyPair> {
  const commonName = options.commonName ?? options.dnsNames[0] ?? options.ipAddresses[0];
  if (!commonName) throw new Error('a serving certificate needs at least one DNS name or IP address');
  return sign(ca, {
    subject: [{ name: 'commonName', value: commonName }],
    lifetimeMs: LEAF_LIFETIME_MS,
    extensions: [
      ...leafExtensions('serverAuth'),
      {
        name: 'subjectAltName',
        altNames: [
          ...options.dnsNames.map((value) => ({ type: 2, value })),
          ...options.ipAddresses.map((ip) => ({ type: 7, ip })),
        ],
      },
    ],
  });
}

export async function issueClientCert(ca: CertKeyPair, options: ClientCertOptions): Promise<CertKeyPair> {
  return sign(ca, {
    subject: [
      { name: 'commonName', value: options.commonName },
      ...options.organizations.map((value) => ({ name: 'organizationName', value })),
    ],
    lifetimeMs: LEAF_LIFETIME_MS,
    extensions: leafExtensions('clientAuth'),
  });
}

function leafExtensions(usage: 'serverAuth' | 'clientAuth'): object[] {
  return [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', [usage]: true },
  ];
}

interface CertificateSpec {
  subject: forge.pki.CertificateField[];
  lifetimeMs: number;
  extensions: object[];
}

/** Signs with `issuer`, or self-signs when there is none. */
async function sign(issuer: CertKeyPair | undefined, spec: CertificateSpec): Promise<CertKeyPair> {
  // Node generates the key natively and without blocking; forge only encodes and signs.
  const { publicKey, privateKey } = await generateRsaKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = positiveSerialNumber();

  const issuerCert = issuer ? forge.pki.certificateFromPem(issuer.certPem) : cert;
  const now = Date.now();
  cert.validity.notBefore = new Date(now - BACKDATE_MS);
  // A leaf never outlives its CA: clients would reject it from that day on anyway.
  cert.validity.notAfter = new Date(Math.min(now + spec.lifetimeMs, issuer ? issuerCert.validity.notAfter.getTime() : Infinity));
  cert.setSubject(spec.subject);
  cert.setIssuer(issuer ? issuerCert.subject.attributes : spec.subject);
  cert.setExtensions([
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: subjectKeyIdentifier(issuerCert) },
  ]);
  const signingKey = forge.pki.privateKeyFromPem(issuer ? issuer.keyPem : privateKey) as forge.pki.rsa.PrivateKey;
  cert.sign(signingKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

/** The issuer's own SKI (so OpenSSL's AKI/SKI match holds even for CAs made elsewhere), else the RFC 5280 hash. */
function subjectKeyIdentifier(cert: forge.pki.Certificate): string {
  const extension = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  return extension?.subjectKeyIdentifier
    ? forge.util.hexToBytes(extension.subjectKeyIdentifier)
    : cert.generateSubjectKeyIdentifier().getBytes();
}

/** 16 random bytes; the first in 0x40–0x7f so the DER INTEGER is positive and minimally encoded. */
function positiveSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** Every certificate in PEM text (Node's X509Certificate reads only the first one of a bundle). */
export function parseCertificateBundle(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

/**
 * CN and O as they were encoded. The `subject` string escapes them RFC 2253 style; the legacy object does not, and
 * gives an array when an attribute repeats.
 */
export function certificateSubject(cert: X509Certificate): { commonName: string; organizations: string[] } {
  const subject = cert.toLegacyObject().subject as Record<string, string | string[] | undefined>;
  const values = (key: string) => [subject[key] ?? []].flat();
  return { commonName: values('CN')[0] ?? '', organizations: values('O') };
}

// ---------------------------------------------------------------------------------------------------------------
// Standalone PKI on disk

/** Names a client may use to reach the server: locally, or in-cluster through the `strongroom` Service. */
export const STANDALONE_SERVING_NAMES: ServingCertOptions = {
  dnsNames: [
    'localhost',
    'strongroom',
    'strongroom.strongroom-system',
    'strongroom.strongroom-system.svc',
    'strongroom.strongroom-system.svc.cluster.local',
  ],
  ipAddresses: ['127.0.0.1', '::1'],
};

/** `system:masters` is what the standalone authorizer lets in. */
export const STANDALONE_ADMIN: ClientCertOptions = { commonName: 'strongroom-admin', organizations: ['system:masters'] };

/** Paths of the files in the PKI directory, and the PEMs callers hand to clients. */
export interface StandalonePKI {
  /** Signs the serving certificate: what kubeconfigs and an APIService's caBundle trust. */
  servingCAFile: string;
  servingCAPem: string;
  servingCertFile: string;
  servingKeyFile: string;
  /** Signs client certificates: the only CA the standalone server trusts for client authentication. */
  clientCAFile: string;
  clientCAPem: string;
  adminCertFile: string;
  adminKeyFile: string;
  adminCertPem: string;
  adminKeyPem: string;
}

/**
 * Creates the standalone PKI in `dir`, or reuses what is there. A certificate is kept while it is in date (with
 * RENEW_BEFORE_MS to spare), matches its key, chains to its CA and covers the names it must; otherwise it is replaced,
 * and replacing a CA replaces what it signed. Keys are written 0600.
 */
export async function ensureStandalonePKI(dir: string): Promise<StandalonePKI> {
  const servingCA = await ensurePair(dir, 'serving-ca', isCA, () => createCA('strongroom-serving-ca'));
  const serving = await ensurePair(
    dir,
    'serving',
    (cert) =>
      chainsTo(cert, servingCA) &&
      STANDALONE_SERVING_NAMES.dnsNames.every((name) => cert.checkHost(name) !== undefined) &&
      STANDALONE_SERVING_NAMES.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined),
    () => issueServingCert(servingCA, STANDALONE_SERVING_NAMES),
  );
  const clientCA = await ensurePair(dir, 'client-ca', isCA, () => createCA('strongroom-client-ca'));
  const admin = await ensurePair(
    dir,
    'admin',
    (cert) => {
      const subject = certificateSubject(cert);
      return (
        chainsTo(cert, clientCA) &&
        subject.commonName === STANDALONE_ADMIN.commonName &&
        subject.organizations.join() === STANDALONE_ADMIN.organizations.join()
      );
    },
    () => issueClientCert(clientCA, STANDALONE_ADMIN),
  );
  return {
    servingCAFile: servingCA.certFile,
    servingCAPem: servingCA.certPem,
    servingCertFile: serving.certFile,
    servingKeyFile: serving.keyFile,
    clientCAFile: clientCA.certFile,
    clientCAPem: clientCA.certPem,
    adminCertFile: admin.certFile,
    adminKeyFile: admin.keyFile,
    adminCertPem: admin.certPem,
    adminKeyPem: admin.keyPem,
  };
}

interface StoredCertKeyPair extends CertKeyPair {
  certFile: string;
  keyFile: string;
}

async function ensurePair(
  dir: string,
  name: string,
  acceptable: (cert: X509Certificate) => boolean,
  create: () => Promise<CertKeyPair>,
): Promise<StoredCertKeyPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const existing = await readPair(certFile, keyFile);
  if (existing && isReusable(existing, acceptable)) return { ...existing, certFile, keyFile };
  const created = await create();
  writeFileAtomic(keyFile, created.keyPem, 0o600);
  writeFileAtomic(certFile, created.certPem, 0o644);
  return { ...created, certFile, keyFile };
}

async function readPair(certFile: string, keyFile: string): Promise<CertKeyPair | undefined> {
  try {
    return { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isReusable(pair: CertKeyPair, acceptable: (cert: X509Certificate) => boolean): boolean {
  let cert: X509Certificate;
  let keyMatches: boolean;
  try {
    cert = new X509Certificate(pair.certPem);
    keyMatches = createPublicKey(pair.keyPem).export({ type: 'spki', format: 'der' }).equals(
      cert.publicKey.export({ type: 'spki', format: 'der' }),
    );
  } catch {
    return false; // unparsable files are replaced like expired ones
  }
  const now = Date.now();
  return (
    keyMatches &&
    cert.validFromDate.getTime() <= now &&
    cert.validToDate.getTime() - now > RENEW_BEFORE_MS &&
    acceptable(cert)
  );
}

const isCA = (cert: X509Certificate) => cert.ca;

function chainsTo(cert: X509Certificate, ca: CertKeyPair): boolean {
  const caCert = new X509Certificate(ca.certPem);
  return cert.checkIssued(caCert) && cert.verify(caCert.publicKey);
}
