// Assembles a running Strongroom API server: storage and its watch cache, the registry, identity, and the HTTPS
// listener. The CLI and the tests start servers through this one function.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { resources } from '../api/resources.ts';
import { Registry } from '../registry/registry.ts';
import { WatchCache } from '../storage/cache.ts';
import type { CompactorOptions } from '../storage/compactor.ts';
import { SqliteStorage } from '../storage/sqlite.ts';
import { createApp } from './app.ts';
import { chainAuthenticators, x509Authenticator } from './authentication.ts';
import { alwaysAllowPaths, standaloneAuthorizer } from './authorization.ts';
import { HealthChecks } from './health.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { Metrics } from './metrics.ts';
import { ensureStandalonePKI } from './pki.ts';
import { loadServingOptions, watchCertificates } from './tls.ts';

export interface ServerConfig {
  bindAddress: string;
  port: number;
  /** Where storage, generated certificates and the kubeconfig live (default `.strongroom`). */
  dataDir: string;
  /** Serving certificate and key; generated under dataDir when absent. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** CA bundle that signs client certificates; the generated client CA when absent. */
  clientCAFile?: string;
  logLevel?: string;
  /** How often watches with allowWatchBookmarks get a bookmark. */
  bookmarkIntervalMs?: number;
  /** History kept for watches and Exact lists: the backend's compaction policy and the watch cache's event window. */
  history?: { compaction?: CompactorOptions; watchCacheCapacity?: number };
  logger?: Logger;
}

export interface RunningServer {
  url: string;
  port: number;
  kubeconfigPath: string | undefined;
  /** PEM of the CA that signed the serving certificate (for clients and the APIService caBundle). */
  caPem: string | undefined;
  adminCertPem: string | undefined;
  adminKeyPem: string | undefined;
  logger: Logger;
  close(): Promise<void>;
}

export const STRONGROOM_VERSION = 'v0.1.0';

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const logger = config.logger ?? pino({ level: config.logLevel ?? 'info', base: { component: 'strongroom' } });
  mkdirSync(config.dataDir, { recursive: true });

  const backend = SqliteStorage.open(join(config.dataDir, 'strongroom.db'));
  const stopCompactor = backend.startCompactor(config.history?.compaction ?? {});
  const storage = new WatchCache(backend, { prefix: '/', capacity: config.history?.watchCacheCapacity });
  let ready = false;
  const loaded = storage.ready.then(() => {
    ready = true;
  });

  const generated = config.tlsCertFile && config.tlsKeyFile && config.clientCAFile ? undefined : await ensureStandalonePKI(join(config.dataDir, 'pki'));
  const certFile = config.tlsCertFile ?? generated!.servingCertFile;
  const keyFile = config.tlsKeyFile ?? generated!.servingKeyFile;
  const clientCAFile = config.clientCAFile ?? generated!.clientCAFile;
  const serving = loadServingOptions({ certFile, keyFile, clientCAFiles: [clientCAFile] });

  const health = new HealthChecks({ onFailure: (failure) => logger.warn(failure, 'health check failed') });
  health.addReadyCheck('storage', () => (ready ? undefined : 'storage is loading'));
  const metrics = new Metrics();
  const app = createApp({
    registry: new Registry(resources, storage),
    authenticator: chainAuthenticators([x509Authenticator({ ca: () => serving.clientCAs() })]),
    authorizer: alwaysAllowPaths(standaloneAuthorizer()),
    health,
    metrics,
    logger,
    watch: { bookmarkIntervalMs: config.bookmarkIntervalMs ?? 60_000 },
    isReady: () => ready,
    version: { gitVersion: STRONGROOM_VERSION },
  });

  const server: Server = createServer(serving.options, app.callback());
  // Watches are long-lived; Node's own request timeouts only bound receiving the request.
  server.keepAliveTimeout = 65_000;
  const stopWatchingCerts = watchCertificates(server, [certFile, keyFile, clientCAFile], () => serving.reload());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.bindAddress, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.bindAddress.includes(':') ? `[${config.bindAddress}]` : config.bindAddress;
  const url = `https://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;

  let kubeconfigPath: string | undefined;
  if (generated) {
    kubeconfigPath = join(config.dataDir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, {
      server: url,
      caPem: generated.servingCAPem,
      clientCertPem: generated.adminCertPem,
      clientKeyPem: generated.adminKeyPem,
      contextName: 'strongroom',
    });
  }
  await loaded;
  logger.info({ url, dataDir: config.dataDir, kubeconfig: kubeconfigPath }, 'Strongroom is serving');

  return {
    url,
    port,
    kubeconfigPath,
    caPem: generated?.servingCAPem,
    adminCertPem: generated?.adminCertPem,
    adminKeyPem: generated?.adminKeyPem,
    logger,
    async close() {
      health.startShutdown();
      stopWatchingCerts();
      stopCompactor();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await storage.close();
    },
  };
}
