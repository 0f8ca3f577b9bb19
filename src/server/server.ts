// Assembles a running Strongroom API server: storage and its watch cache, the registry, identity, and the HTTPS
// listener. The CLI and the tests start servers through this one function.
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { resources } from '../api/resources.ts';
import { builtInAdmission } from '../admission/builtin.ts';
import { concatChains } from '../admission/chain.ts';
import type { AdmissionChain } from '../admission/interface.ts';
import { parseImageCatalog } from '../engines/catalog.ts';
import { Registry } from '../registry/registry.ts';
import { WatchCache } from '../storage/cache.ts';
import type { CompactorOptions } from '../storage/compactor.ts';
import { openBackend } from '../storage/backend.ts';
import type { EtcdStorageOptions } from '../storage/etcd.ts';
import { createApp } from './app.ts';
import { chainAuthenticators, x509Authenticator } from './authentication.ts';
import { alwaysAllowPaths, standaloneAuthorizer } from './authorization.ts';
import type { Delegation } from './delegation/index.ts';
import { HealthChecks } from './health.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { Metrics } from './metrics.ts';
import { ensureStandalonePKI } from './pki.ts';
import { answerUnparsedRequests, MAX_HEADER_BYTES } from './protocol.ts';
import { loadServingOptions, watchCertificates } from './tls.ts';

export interface ServerConfig {
  bindAddress: string;
  port: number;
  /** Where storage (SQLite's), generated certificates and the kubeconfig live (default `.strongroom`). */
  dataDir: string;
  /** Store objects in etcd, which several replicas can share; absent, in SQLite under dataDir (one replica). */
  etcd?: EtcdStorageOptions;
  /** Serving certificate and key; generated under dataDir when absent. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /**
   * CA bundle that signs client certificates. Standalone: the generated client CA when absent. Cluster mode: replaces
   * the cluster's `client-ca-file` when given.
   */
  clientCAFile?: string;
  /**
   * The cluster to delegate authentication, authorization and namespace lifecycle to (cluster mode); standalone
   * when absent. See delegation/cluster.ts for how the CLI finds it.
   */
  cluster?: KubeConfig;
  /**
   * Cluster mode: contend for the controller Lease and run the controllers while holding it (default true). Every
   * replica serves the API either way.
   */
  controllers?: boolean;
  /** The namespace of the controller Lease (default strongroom-system). */
  leaseNamespace?: string;
  /** The image of backup and restore Jobs; the release's own image when undefined. */
  agentImage?: string;
  /**
   * Admission plugins run after the built-in ones and those cluster mode adds (NamespaceLifecycle, the cluster's
   * policies and webhooks): mutating after mutating, validating after validating.
   */
  admission?: Partial<AdmissionChain>;
  /** A file with the image catalog (src/engines/catalog.ts); read once at start, a bad one fails the start. */
  imageCatalogFile?: string;
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

/** How long a start in cluster mode waits for the cluster's settings and namespaces before listening anyway. */
const CLUSTER_SYNC_TIMEOUT_MS = 10_000;

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const logger = config.logger ?? pino({ level: config.logLevel ?? 'info', base: { component: 'strongroom' } });
  mkdirSync(config.dataDir, { recursive: true });
  // Before anything listens: a catalog that does not parse is a configuration error, not something to serve with.
  const imageCatalog = config.imageCatalogFile === undefined ? undefined : parseImageCatalog(await readFile(config.imageCatalogFile, 'utf8'), config.imageCatalogFile);

  const backend = await openBackend(
    config.etcd
      ? { type: 'etcd', onWatchFailure: (err) => logger.warn({ err }, 'storage watch failed'), ...config.etcd }
      : { type: 'sqlite', path: join(config.dataDir, 'strongroom.db') },
  );
  const stopCompactor = backend.startCompactor(config.history?.compaction ?? {});
  const storage = new WatchCache(backend, {
    prefix: '/',
    capacity: config.history?.watchCacheCapacity,
    onResyncError: (err) => logger.warn({ err }, 'watch cache: the storage watch broke; listing again'),
  });
  let ready = false;
  const loaded = storage.ready.then(() => {
    ready = true;
  });

  const { cluster } = config;
  // The serving certificate is generated in both modes (its CA goes into the APIService's caBundle); the client CA
  // only matters standalone, where it is the one CA trusted for client certificates.
  const needsPKI = !(config.tlsCertFile && config.tlsKeyFile) || (!cluster && !config.clientCAFile);
  const generated = needsPKI ? await ensureStandalonePKI(join(config.dataDir, 'pki')) : undefined;
  const certFile = config.tlsCertFile ?? generated!.servingCertFile;
  const keyFile = config.tlsKeyFile ?? generated!.servingKeyFile;
  const clientCAFiles = config.clientCAFile ? [config.clientCAFile] : cluster ? [] : [generated!.clientCAFile];
  const serving = loadServingOptions({ certFile, keyFile, clientCAFiles });

  const health = new HealthChecks({ onFailure: (failure) => logger.warn(failure, 'health check failed') });
  health.addReadyCheck('storage', () => (ready ? undefined : 'storage is loading'));
  let delegation: Delegation | undefined;
  if (cluster) {
    // Loaded on demand: standalone servers do without the Kubernetes client.
    const { startDelegation } = await import('./delegation/index.ts');
    delegation = startDelegation(cluster, {
      logger,
      health,
      clientCAOverride: config.clientCAFile ? () => serving.clientCAs() : undefined,
    });
    // Waited for before listening, so the first requests (the aggregator's availability probe) meet a configured
    // server. A cluster that does not answer delays the start by this much at most; /readyz tells the rest.
    if (!(await delegation.waitForSync(CLUSTER_SYNC_TIMEOUT_MS))) {
      logger.warn({ cluster: cluster.getCurrentCluster()?.server }, 'the cluster has not answered yet; serving, but not ready');
    }
  }
  /** The TLS settings from the files, with the cluster's CAs advertised to clients as well. */
  const secureContext = (): SecureContextOptions => withClientCAs(serving.reload(), delegation?.clientCAs() ?? []);

  const metrics = new Metrics();
  const registry = new Registry(resources, storage, {
    admission: (lookup) => concatChains(
      { mutating: delegation?.admission.mutating },
      builtInAdmission(resources, lookup),
      { validating: delegation?.admission.validating },
      config.admission,
    ),
    auditAnnotations: (a, annotations) =>
      logger.info({ resource: a.resource.resource, subresource: a.subresource, namespace: a.namespace, name: a.name, operation: a.operation, user: a.userInfo.name, annotations }, 'admission audit annotations'),
  });
  const app = createApp({
    registry,
    authenticator: delegation?.authenticator ?? chainAuthenticators([x509Authenticator({ ca: () => serving.clientCAs() })]),
    authorizer: delegation?.authorizer ?? alwaysAllowPaths(standaloneAuthorizer()),
    health,
    metrics,
    logger,
    watch: { bookmarkIntervalMs: config.bookmarkIntervalMs ?? 60_000 },
    isReady: () => ready,
    standalone: !delegation,
    version: { gitVersion: STRONGROOM_VERSION },
  });

  const server: Server = createServer({ ...withClientCAs(serving.options, delegation?.clientCAs() ?? []), maxHeaderSize: MAX_HEADER_BYTES }, app.callback());
  answerUnparsedRequests(server);
  // Watches are long-lived; Node's own request timeouts only bound receiving the request.
  server.keepAliveTimeout = 65_000;
  const stopWatchingCerts = watchCertificates(server, [certFile, keyFile, ...clientCAFiles], secureContext);
  delegation?.onClientCAsChange(() => {
    try {
      server.setSecureContext(secureContext());
    } catch (error) {
      // The previous context stays; the certificate watch retries once the files are whole again.
      logger.error({ err: error }, 'could not apply new client CAs from the cluster');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.bindAddress, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.bindAddress.includes(':') ? `[${config.bindAddress}]` : config.bindAddress;
  const url = `https://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${port}`;

  let kubeconfigPath: string | undefined;
  if (generated && !cluster) {
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

  let controllers: { stop(): Promise<void> } | undefined;
  if (cluster && config.controllers !== false) {
    // Loaded on demand, like the delegation: standalone servers have no cluster to reconcile into.
    const { ControllerManager } = await import('../controller/manager.ts');
    const manager = new ControllerManager({
      cluster,
      registry,
      logger,
      metrics: metrics.registry,
      leaseNamespace: config.leaseNamespace,
      agentImage: config.agentImage,
      imageCatalog,
    });
    manager.start();
    controllers = manager;
  }

  return {
    url,
    port,
    kubeconfigPath,
    caPem: generated?.servingCAPem,
    adminCertPem: cluster ? undefined : generated?.adminCertPem,
    adminKeyPem: cluster ? undefined : generated?.adminKeyPem,
    logger,
    async close() {
      // First, while storage is open: in-flight reconciles finish, then the lease is released for another replica.
      await controllers?.stop();
      health.startShutdown();
      stopWatchingCerts();
      stopCompactor();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await delegation?.stop();
      await storage.close();
      await backend.close();
    },
  };
}

/** `options` with `extra` added to the CAs the TLS handshake advertises for client certificates. */
function withClientCAs<T extends SecureContextOptions>(options: T, extra: string[]): T {
  if (extra.length === 0) return options;
  const own = options.ca === undefined ? [] : [options.ca].flat();
  return { ...options, ca: [...own, ...extra] };
}
