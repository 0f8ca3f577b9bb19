// The HTTPS listener's TLS settings, and swapping them in when the files behind them change (cert-manager renewals,
// Kubernetes secret volume updates) without dropping connections.
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContextOptions, type Server } from 'node:tls';

export interface ServingFiles {
  certFile: string;
  keyFile: string;
  /** CAs whose client certificates the server accepts; advertised in the TLS CertificateRequest. */
  clientCAFiles: string[];
}

export interface ServingTLS {
  /** For `https.createServer`. */
  readonly options: ServerOptions;
  /** PEM of each client CA file as last loaded, for the authenticator to verify against the same CAs. */
  clientCAs(): string[];
  /** Re-reads the files and returns the new context; throws, keeping the previous state, if they do not fit. */
  reload(): SecureContextOptions;
}

/**
 * Client certificates are requested but not required, and OpenSSL's verdict does not reject the handshake: probes
 * and bearer-token clients have none, and the authenticators verify the chain against the CA they care about. The
 * `ca` list is advertised in the CertificateRequest, as upstream does, for TLS clients that pick a certificate by
 * the issuers the server names (client-go sends its certificate either way).
 */
export function loadServingOptions(files: ServingFiles): ServingTLS {
  let clientCAs: string[] = [];
  const read = (): SecureContextOptions => {
    const cas = files.clientCAFiles.map((file) => readFileSync(file, 'utf8'));
    const context: SecureContextOptions = {
      cert: readFileSync(files.certFile, 'utf8'),
      key: readFileSync(files.keyFile, 'utf8'),
      minVersion: 'TLSv1.2',
      crl: CHAIN_EXPOSING_CRL,
      ...(cas.length > 0 ? { ca: cas } : {}),
    };
    createSecureContext(context); // throws on a key that does not match the certificate, before anything changes
    clientCAs = cas;
    return context;
  };
  return {
    options: { ...read(), requestCert: true, rejectUnauthorized: false },
    clientCAs: () => clientCAs,
    reload: read,
  };
}

/**
 * An empty CRL from an issuer no certificate has. Its only effect is to switch on OpenSSL's CRL checks, which then
 * fail for every chain for want of a CRL: the handshake goes on (rejectUnauthorized is false), and Node exposes the
 * certificates the client presented, which it hides when OpenSSL verified them itself. The authenticators verify the
 * chain against their own CA bundle; without this a client certificate issued by an intermediate, sent along in the
 * handshake, could never be verified. (`openssl ca -gencrl`, issuer CN=strongroom-chain-exposure, valid until 2126.)
 */
const CHAIN_EXPOSING_CRL = `-----BEGIN X509 CRL-----
MIG9MGUCAQEwCgYIKoZIzj0EAwIwJDEiMCAGA1UEAwwZc3Ryb25ncm9vbS1jaGFp
bi1leHBvc3VyZRcNMjYxMjA3MTYwNjMwWhgPMjEyNjExMTMxNjA2MzBaoA4wDDAK
BgNVHRQEAwIBATAKBggqhkjOPQQDAgNIADBFAiEArjENhmzmXNaJ3P9GvM4H3jz1
LfwiCVO1BJonw9sEJ1cCIAuyDuuZUxVWoGFLHGkd9XS6p6uTyWrDHF7x4EVj8/of
-----END X509 CRL-----
`;

export interface WatchOptions {
  /** Waits for a burst of writes (certificate, then key) to settle. Default 200 ms. */
  debounceMs?: number;
  /** Re-checks the files this often even without events (file systems where fs.watch is silent). Default 60 s. */
  resyncMs?: number;
  /** Called after each reload attempt, with the error if it failed (the previous context stays in use). */
  onReload?: (error?: unknown) => void;
}

/**
 * Reloads the server's secure context when the content of any of `files` changes. It watches the directories, not the
 * files: Kubernetes updates secret volumes by swapping a `..data` symlink and editors replace files by rename, both of
 * which a watch on the old file would miss. Changes are recognised by a hash of the contents, so events for unrelated
 * files cost one read. Returns a function that stops watching.
 */
export function watchCertificates(
  server: Server,
  files: string[],
  reload: () => SecureContextOptions | Promise<SecureContextOptions>,
  options: WatchOptions = {},
): () => void {
  const { debounceMs = 200, resyncMs = 60_000, onReload } = options;
  let applied = digest(files);
  let queue = Promise.resolve();
  let debounce: NodeJS.Timeout | undefined;

  const check = async () => {
    const current = digest(files);
    // Unreadable means mid-swap (a file briefly missing): the event that completes the swap checks again.
    if (current === undefined || current === applied) return;
    try {
      server.setSecureContext(await reload());
      applied = current;
      onReload?.();
    } catch (error) {
      onReload?.(error);
    }
  };
  const enqueue = () => {
    queue = queue.then(check);
  };
  const schedule = () => {
    clearTimeout(debounce);
    debounce = setTimeout(enqueue, debounceMs).unref();
  };

  const watchers = [...new Set(files.map((file) => dirname(file)))].map((dir) =>
    // A watch that errors (directory removed) is left to the resync timer.
    watch(dir, { persistent: false }, schedule).on('error', () => {}),
  );
  const resync = setInterval(enqueue, resyncMs).unref();
  return () => {
    for (const watcher of watchers) watcher.close();
    clearTimeout(debounce);
    clearInterval(resync);
  };
}

function digest(files: string[]): string | undefined {
  const hash = createHash('sha256');
  try {
    for (const file of files) hash.update(readFileSync(file)).update('\0');
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}
