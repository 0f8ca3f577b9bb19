// A kubeconfig with everything embedded, so kubectl works with this one file wherever it is copied.
import { stringify } from 'yaml';
import { writeFileAtomic } from './files.ts';

export interface KubeconfigOptions {
  /** `https://host:port` */
  server: string;
  /** CA that signed the serving certificate. */
  caPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  /** Names the cluster, the user and the context alike, as kind does. */
  contextName: string;
}

export function renderKubeconfig(options: KubeconfigOptions): string {
  const name = options.contextName;
  const base64 = (pem: string) => Buffer.from(pem).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: options.server, 'certificate-authority-data': base64(options.caPem) } }],
    users: [
      {
        name,
        user: {
          'client-certificate-data': base64(options.clientCertPem),
          'client-key-data': base64(options.clientKeyPem),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
    preferences: {},
  }, { lineWidth: 0 });
}

/** Written 0600: the file holds a private key. */
export function writeKubeconfig(path: string, options: KubeconfigOptions): void {
  writeFileAtomic(path, renderKubeconfig(options), 0o600);
}
