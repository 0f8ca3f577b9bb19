// Who is calling. Authenticators follow k8s.io/apiserver's delegating authenticator: client certificates verified
// against a CA bundle (user = CN, groups = O), and the front proxy's X-Remote-* headers, trusted only from a verified
// front-proxy certificate with an allowed CN.
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import forge from 'node-forge';
import { unauthorized } from '../api/errors.ts';
import { certificateSubject, parseCertificateBundle } from './pki.ts';

/** As k8s.io/apiserver's user.Info. */
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/**
 * Resolves to the user, or to undefined when the request carries no credentials of this kind ("not mine, try the
 * next"). Throws when it does carry them and they are invalid (a certificate from an unknown CA).
 */
export interface Authenticator {
  authenticate(req: IncomingMessage): Promise<UserInfo | undefined>;
}

export const ALL_AUTHENTICATED = 'system:authenticated';
const ALL_UNAUTHENTICATED = 'system:unauthenticated';

/**
 * Tries each authenticator in order; the first user wins, failures of the others are then irrelevant (union
 * authenticator). When none yields a user but some failed, throws 401 with the failures as `cause`, rather than
 * letting the request fall through as if it carried no credentials. Adds `system:authenticated` to every user, which
 * kube-apiserver's `system:discovery` role relies on (checklist §0.2).
 */
export function chainAuthenticators(authenticators: Authenticator[]): Authenticator {
  return {
    async authenticate(req) {
      const failures: unknown[] = [];
      for (const authenticator of authenticators) {
        let user: UserInfo | undefined;
        try {
          user = await authenticator.authenticate(req);
        } catch (error) {
          failures.push(error);
          continue;
        }
        if (user) return withAuthenticatedGroup(user);
      }
      if (failures.length === 0) return undefined;
      const error = unauthorized();
      error.cause = new AggregateError(failures, failures.map(String).join('; '));
      throw error;
    },
  };
}

function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes(ALL_AUTHENTICATED) || user.groups.includes(ALL_UNAUTHENTICATED)) return user;
  return { ...user, groups: [...user.groups, ALL_AUTHENTICATED] };
}

// ---------------------------------------------------------------------------------------------------------------
// Client certificates

/** PEM texts (each may hold several certificates), or a function returning the current ones for CAs that reload. */
export type CABundle = string[] | (() => string[]);

/**
 * Client certificates signed by `ca`. The server runs with `rejectUnauthorized: false` and several CAs in its TLS
 * `ca` list, so `socket.authorized` cannot say which CA vouched for the peer; the chain is verified here, against
 * this bundle only.
 */
export function x509Authenticator(options: { ca: CABundle }): Authenticator {
  const bundle = options.ca;
  const roots = trustedRoots();
  const verifiedPeer = peerVerifier();
  return {
    async authenticate(req) {
      const peer = verifiedPeer(req, roots(typeof bundle === 'function' ? bundle() : bundle));
      // As upstream's CommonNameUserConversion: a certificate without CN names nobody.
      if (!peer?.commonName) return undefined;
      return { name: peer.commonName, groups: peer.organizations, extra: {} };
    },
  };
}

interface VerifiedPeer {
  commonName: string;
  organizations: string[];
}

/**
 * Verifies the peer's certificate chain against `roots`: undefined without a client certificate (or without roots),
 * throws when it does not verify. A connection proved possession of its certificate's key once, at the handshake, so
 * the outcome is kept per connection (and CA bundle) until the first certificate on the chain expires: keep-alive
 * requests do not pay for the signature checks again.
 */
function peerVerifier(): (req: IncomingMessage, roots: X509Certificate[]) => VerifiedPeer | undefined {
  const verified = new WeakMap<TLSSocket, VerifiedPeer & { roots: X509Certificate[]; until: number }>();
  return (req, roots) => {
    const socket = req.socket;
    if (!(socket instanceof TLSSocket) || roots.length === 0) return undefined;
    const now = Date.now();
    const known = verified.get(socket);
    if (known && known.roots === roots && now <= known.until) return known;
    const peer = peerCertificateChain(socket);
    if (!peer) return undefined;
    const chain = verifyClientCertificate(peer, roots, new Date(now));
    const entry = { ...certificateSubject(chain[0]!), roots, until: Math.min(...chain.map((cert) => cert.validToDate.getTime())) };
    verified.set(socket, entry);
    return entry;
  };
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
const MAX_CHAIN_LENGTH = 8;
/** Bounds the signature checks one handshake's certificates can cost, as Go's chain builder does (100). */
const MAX_SIGNATURE_CHECKS = 100;

/**
 * The chain from the peer's certificate to one of `roots`, built from the certificates the peer presented; throws
 * when there is none, or when every chain has a certificate that is out of date, restricted to other uses than
 * client authentication, or beyond its CA's path length. Mirrors Go's `x509.Verify` with `ExtKeyUsageClientAuth`,
 * which k8s.io/apiserver uses for both client CAs: every candidate chain is tried, not only the first one found.
 */
export function verifyClientCertificate(peer: X509Certificate[], roots: X509Certificate[], now: Date): X509Certificate[] {
  const [leaf, ...intermediates] = peer;
  if (!leaf) throw new Error('x509: no client certificate');
  const chains = candidateChains(leaf, intermediates, roots);
  if (chains.length === 0) throw new Error(`x509: certificate signed by unknown authority (subject ${oneLine(leaf)})`);
  let firstProblem: string | undefined;
  for (const chain of chains) {
    const problem = chainProblem(chain, now);
    if (problem === undefined) return chain;
    firstProblem ??= problem;
  }
  throw new Error(firstProblem);
}

/** What disqualifies a chain (leaf first, root last) whose signatures hold, or undefined. */
function chainProblem(chain: X509Certificate[], now: Date): string | undefined {
  for (const [position, cert] of chain.entries()) {
    if (now < cert.validFromDate || now > cert.validToDate) {
      return `x509: certificate has expired or is not yet valid: ${oneLine(cert)} is valid from ${cert.validFrom} to ${cert.validTo}`;
    }
    // Node calls the *extended* key usage list `keyUsage`; undefined means unrestricted.
    const usages = cert.keyUsage as string[] | undefined;
    if (usages && !usages.includes(CLIENT_AUTH) && !usages.includes(ANY_EXTENDED_KEY_USAGE)) {
      return `x509: certificate specifies an incompatible key usage: ${oneLine(cert)}`;
    }
    // A CA's pathLenConstraint counts the intermediates below it.
    const maxPathLength = position > 0 ? pathLengthConstraint(cert) : undefined;
    if (maxPathLength !== undefined && position - 1 > maxPathLength) {
      return `x509: too many intermediates for path length constraint: ${oneLine(cert)} allows ${maxPathLength}`;
    }
  }
  return undefined;
}

/**
 * Every chain from `leaf` to a root, depth first, through the CA certificates among `intermediates`: an issuer
 * matches by name and key identifiers (checkIssued, which also demands keyCertSign when the issuer states key usages)
 * and its signature verifies. A certificate of the bundle is a root even when the peer sent it too.
 */
function candidateChains(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): X509Certificate[][] {
  const chains: X509Certificate[][] = [];
  let signatureChecks = 0;
  const signedBy = (cert: X509Certificate, issuer: X509Certificate) => {
    if (!cert.checkIssued(issuer) || signatureChecks >= MAX_SIGNATURE_CHECKS) return false;
    signatureChecks++;
    return cert.verify(issuer.publicKey);
  };
  const isRoot = (cert: X509Certificate) => roots.some((root) => root.fingerprint256 === cert.fingerprint256);
  const extend = (chain: X509Certificate[]) => {
    const current = chain.at(-1)!;
    for (const root of roots) if (signedBy(current, root)) chains.push([...chain, root]);
    if (chain.length + 1 >= MAX_CHAIN_LENGTH) return;
    for (const next of intermediates) {
      if (!next.ca || isRoot(next) || chain.some((seen) => seen.fingerprint256 === next.fingerprint256)) continue;
      if (signedBy(current, next)) extend([...chain, next]);
    }
  };
  extend([leaf]);
  return chains;
}

const BASIC_CONSTRAINTS = '2.5.29.19';

/** The pathLenConstraint of a certificate's basicConstraints, which Node's X509Certificate does not expose. */
function pathLengthConstraint(cert: X509Certificate): number | undefined {
  const { asn1, util } = forge;
  const certificate = asn1.fromDer(util.createBuffer(cert.raw.toString('binary')));
  const tbs = (certificate.value as forge.asn1.Asn1[])[0]!;
  const tagged = (tbs.value as forge.asn1.Asn1[]).find((field) => field.tagClass === asn1.Class.CONTEXT_SPECIFIC && field.type === 3);
  const extensions = ((tagged?.value as forge.asn1.Asn1[] | undefined)?.[0]?.value ?? []) as forge.asn1.Asn1[];
  for (const extension of extensions) {
    const parts = extension.value as forge.asn1.Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== BASIC_CONSTRAINTS) continue;
    const constraints = asn1.fromDer(parts.at(-1)!.value as string).value as forge.asn1.Asn1[];
    const pathLength = constraints.find((field) => field.type === asn1.Type.INTEGER);
    return pathLength === undefined ? undefined : Number.parseInt(util.bytesToHex(pathLength.value as string) || '0', 16);
  }
  return undefined;
}

function oneLine(cert: X509Certificate): string {
  return cert.subject.replaceAll('\n', ', ');
}

/**
 * The peer's certificate and the certificates it presented with it, leaf first. Node links what the client sent as
 * `issuerCertificate` only when OpenSSL's own verification of the handshake failed; tls.ts makes sure it always
 * fails (see CHAIN_EXPOSING_CRL), so the chain a client sends is here whichever CA it leads to.
 */
function peerCertificateChain(socket: TLSSocket): X509Certificate[] | undefined {
  const leaf = socket.getPeerX509Certificate();
  if (!leaf) return undefined;
  const chain = [leaf];
  // A self-signed certificate is its own issuer; stop where the chain loops.
  for (let cert = leaf.issuerCertificate; cert && chain.length < MAX_CHAIN_LENGTH; cert = cert.issuerCertificate) {
    if (chain.some((seen) => seen.fingerprint256 === cert!.fingerprint256)) break;
    chain.push(cert);
  }
  return chain;
}

/** Parses a CA bundle once per change of its content, not per request. */
function trustedRoots(): (pems: string[]) => X509Certificate[] {
  let key: string | undefined;
  let parsed: X509Certificate[] = [];
  return (pems) => {
    const current = pems.join('\n');
    if (current !== key) {
      parsed = pems.flatMap(parseCertificateBundle);
      key = current;
    }
    return parsed;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Front proxy (requestheader)

/** The `requestheader-*` settings of kube-system/extension-apiserver-authentication (checklist §7.3). */
export interface RequestHeaderConfig {
  /** `requestheader-client-ca-file`: PEM texts. */
  ca: string[];
  /** CNs the front-proxy certificate may have; empty allows any. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

/** kube-apiserver's defaults; stripped from every request even when the configuration names others. */
export const STANDARD_REQUEST_HEADERS = {
  usernameHeaders: ['X-Remote-User'],
  uidHeaders: ['X-Remote-Uid'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
};

/**
 * The identity the front proxy (the aggregator) asserts in headers, as k8s.io/apiserver's x509 `Verifier` around the
 * `requestheader` authenticator (checklist §7.2): only when the peer's certificate verifies against `ca` with a CN in
 * `allowedNames`. The identity headers are removed from the request whatever the outcome, so nothing downstream can
 * read forged ones. `config` may be a function for settings that reload; undefined means not configured (yet).
 */
export function requestHeaderAuthenticator(config: RequestHeaderConfig | (() => RequestHeaderConfig | undefined)): Authenticator {
  const roots = trustedRoots();
  const verifiedPeer = peerVerifier();
  return {
    async authenticate(req) {
      const settings = typeof config === 'function' ? config() : config;
      const headers = takeIdentityHeaders(req, settings);
      if (!settings) return undefined;
      const peer = verifiedPeer(req, roots(settings.ca));
      if (!peer) return undefined;
      if (settings.allowedNames.length > 0 && !settings.allowedNames.includes(peer.commonName)) {
        throw new Error(`x509: subject with cn=${peer.commonName} is not in the allowed list`);
      }

      const first = (names: string[]) => names.map((name) => headers.get(name.toLowerCase())?.[0]).find((value) => value);
      const name = first(settings.usernameHeaders);
      if (!name) return undefined;
      const uid = first(settings.uidHeaders);
      const groups = settings.groupHeaders.flatMap((header) => headers.get(header.toLowerCase()) ?? []).filter((group) => group !== '');
      const extra: Record<string, string[]> = {};
      // Prefix by prefix, as upstream, so values keep a stable order.
      for (const prefix of settings.extraHeaderPrefixes.map((p) => p.toLowerCase())) {
        for (const [header, values] of headers) {
          if (!header.startsWith(prefix)) continue;
          const key = unescapeExtraKey(header.slice(prefix.length));
          (extra[key] ??= []).push(...values);
        }
      }
      return { name, ...(uid ? { uid } : {}), groups, extra };
    },
  };
}

/**
 * Removes the identity headers (configured and standard names) from the request and returns their values by lower-case
 * name. Node materialises `headers` and `headersDistinct` lazily from `rawHeaders`, so both are read before any of
 * the three is changed.
 */
function takeIdentityHeaders(req: IncomingMessage, settings: RequestHeaderConfig | undefined): Map<string, string[]> {
  const lists = [STANDARD_REQUEST_HEADERS, ...(settings ? [settings] : [])];
  const exact = new Set(lists.flatMap((l) => [...l.usernameHeaders, ...l.uidHeaders, ...l.groupHeaders]).map((h) => h.toLowerCase()));
  const prefixes = lists.flatMap((l) => l.extraHeaderPrefixes).map((p) => p.toLowerCase());
  const isIdentity = (name: string) => exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix));

  const headers = req.headers;
  const distinct = req.headersDistinct;
  const taken = new Map<string, string[]>();
  for (const [name, values] of Object.entries(distinct)) {
    if (!values || !isIdentity(name)) continue;
    taken.set(name, values);
    delete distinct[name];
    delete headers[name];
  }
  if (taken.size > 0) {
    const raw: string[] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (!isIdentity(req.rawHeaders[i]!.toLowerCase())) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    req.rawHeaders = raw;
  }
  return taken;
}

/** Extra keys travel %-escaped (client-go `headerKeyEscape`); a malformed escape is kept as sent, as upstream does. */
function unescapeExtraKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
