// Per-run certificate authorities and certificates for the local control plane. Keys come from node:crypto (native,
// milliseconds) and certificates from node-forge, which signs RSA only, so every key is RSA.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPair {
  /** Issues a certificate signed by this authority. */
  issue(request: CertificateRequest): KeyPair;
}

export interface CertificateRequest {
  commonName: string;
  /** Subject organizations: Kubernetes reads them as the client's groups. */
  organizations?: string[];
  usage: "client" | "server";
  dnsNames?: string[];
  ipAddresses?: string[];
}

const validityDays = 7;

function rsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function newCertificate(publicKeyPem: string, subject: forge.pki.CertificateField[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // Positive 128-bit serial: the high bit cleared so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  cert.serialNumber = serial.toString("hex");
  // Backdated a minute so a just-issued certificate is valid despite small clock differences between processes.
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + validityDays * 86_400_000);
  cert.setSubject(subject);
  return cert;
}

// forge writes CRLF line breaks; LF like every other PEM tool, so files and ConfigMap data compare byte for byte.
const toPem = (cert: forge.pki.Certificate): string => forge.pki.certificateToPem(cert).replaceAll("\r\n", "\n");

function subjectOf(commonName: string, organizations: string[] = []): forge.pki.CertificateField[] {
  return [...organizations.map((value) => ({ shortName: "O", value })), { shortName: "CN", value: commonName }];
}

/** A self-signed CA. The cluster CA and the front-proxy CA must be two distinct authorities. */
export function createCertificateAuthority(commonName: string): CertificateAuthority {
  const { privateKeyPem, publicKeyPem } = rsaKeyPair();
  const signingKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const caCert = newCertificate(publicKeyPem, subjectOf(commonName));
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  caCert.sign(signingKey, forge.md.sha256.create());

  return {
    certPem: toPem(caCert),
    keyPem: privateKeyPem,
    issue(request) {
      const pair = rsaKeyPair();
      const leaf = newCertificate(pair.publicKeyPem, subjectOf(request.commonName, request.organizations));
      leaf.setIssuer(caCert.subject.attributes);
      const altNames = [
        ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
        ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
      ];
      leaf.setExtensions([
        { name: "basicConstraints", cA: false, critical: true },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: request.usage === "server", clientAuth: request.usage === "client" },
        { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
        ...(altNames.length > 0 ? [{ name: "subjectAltName", altNames }] : []),
      ]);
      leaf.sign(signingKey, forge.md.sha256.create());
      return { certPem: toPem(leaf), keyPem: pair.privateKeyPem };
    },
  };
}

/** The service-account token signing key pair (no certificate: the apiserver only needs the public key). */
export function createServiceAccountKeyPair(): { keyPem: string; publicKeyPem: string } {
  const { privateKeyPem, publicKeyPem } = rsaKeyPair();
  return { keyPem: privateKeyPem, publicKeyPem };
}
