// The controller manager (controller-runtime's Manager): in cluster mode every Strongroom replica contends for the
// Lease, and only its holder runs the controllers. Each leadership term starts from nothing — new informers, a new
// work queue, a new reconciler — and ends, when the lease is lost or the process stops, with the workers drained and
// the informers stopped, before another replica may take over. Every replica keeps serving the API meanwhile.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry as MetricsRegistry } from 'prom-client';
import type { Backup } from '../api/backup.ts';
import type { Database } from '../api/database.ts';
import { GROUP, type KubeObject, type NamespacedName } from '../api/meta.ts';
import type { Restore } from '../api/restore.ts';
import { IMAGE_CATALOG_CONFIGMAP, type ImageCatalog } from '../engines/catalog.ts';
import { MANAGED_BY, DATABASE_LABEL } from '../engines/common.ts';
import type { Registry } from '../registry/registry.ts';
import { AgentAccess } from './backup/agentaccess.ts';
import { AGENT_SERVICE_ACCOUNT, BACKUP_LABEL, RESTORE_LABEL, type AgentSettings } from './backup/agentjob.ts';
import { BackupReconciler } from './backup/reconciler.ts';
import { ChildWriter } from './children.ts';
import { DatabaseReconciler } from './database/reconciler.ts';
import { EventRecorder } from './events.ts';
import { ImageCatalogSource } from './images.ts';
import { OwnObjects } from './ownobjects.ts';
import { KubeConfigClient, type KubeClient } from './runtime/client.ts';
import type { Informer } from './runtime/cache.ts';
import { byControllerOwner, byLabel, Controller, keyString, objectKey, type KeyMapper, type Reconcile } from './runtime/controller.ts';
import { childInformers, ClusterInformer, type ChildKind } from './runtime/informer.ts';
import { resourceTypes } from './runtime/kinds.ts';
import { defaultIdentity, LeaderElector } from './runtime/leaderelection.ts';
import { StoreInformer } from './runtime/ownwatch.ts';
import { RestoreReconciler } from './restore/reconciler.ts';

export const DEFAULT_LEASE_NAMESPACE = 'strongroom-system';
export const LEASE_NAME = 'strongroom-controller';

export interface ControllerManagerOptions {
  cluster: KubeConfig;
  registry: Registry;
  logger: Logger;
  /** Where the controller metrics go (the server's /metrics). */
  metrics?: MetricsRegistry;
  /** Default `strongroom-system`. */
  leaseNamespace?: string;
  /** Default: hostname and a random suffix. */
  identity?: string;
  /** Concurrent reconciles of different Databases. Default 4. */
  workers?: number;
  /** The image of backup and restore Jobs when the image catalog names none. Default: this release's image. */
  agentImage?: string;
  /** The catalog file's (--image-catalog); the ConfigMap `strongroom-images` in the lease namespace overrides it. */
  imageCatalog?: ImageCatalog;
}

/** Children the controller creates, found by their controller reference; Pods and claims carry only the label. */
const OWNED: readonly ChildKind[] = ['StatefulSet', 'Service', 'Secret', 'ConfigMap', 'PodDisruptionBudget', 'NetworkPolicy', 'Job'];
const LABELLED: readonly ChildKind[] = ['Pod', 'PersistentVolumeClaim'];

/** A Backup's or Restore's Database, by spec.databaseName. */
const byDatabaseName: KeyMapper = (obj) => [{ namespace: obj.metadata.namespace, name: obj.spec?.databaseName }];

function backupsWaitingFor(backups: Informer<Backup>, db: KubeObject): NamespacedName[] {
  return backups
    .list(db.metadata.namespace)
    .filter((backup) => backup.spec.databaseName === db.metadata.name && (backup.status?.phase ?? 'Pending') === 'Pending')
    .map(objectKey);
}

function restoresOf(restores: Informer<Restore>, namespace: string | undefined, match: (restore: Restore) => boolean): NamespacedName[] {
  return restores.list(namespace).filter((restore) => restore.status?.phase === 'Running' && match(restore)).map(objectKey);
}

/** Member pods and claims wake the restores whose target they belong to (stopping members, claims created). */
function restoresOfLabelled(restores: Informer<Restore>, obj: KubeObject): NamespacedName[] {
  const database = obj.metadata.labels?.[DATABASE_LABEL];
  if (!database) return [];
  return restoresOf(restores, obj.metadata.namespace, (r) => (r.status?.plan as { targetDatabase?: string } | undefined)?.targetDatabase === database);
}

/** controller-runtime's metric names, so its dashboards work. */
class ControllerMetrics {
  readonly reconciles: Counter;
  readonly durations: Histogram;
  readonly leader: Gauge;

  constructor(registry: MetricsRegistry | undefined) {
    const registers = registry ? [registry] : [];
    this.reconciles = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.durations = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.leader = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers,
    });
  }
}

/**
 * The elector passes what is left of its renew deadline as a request timeout, a fraction of a millisecond included,
 * and AbortSignal.timeout refuses fractions: every renewal then failed and leadership restarted each renew deadline.
 * Rounded up here until KubeConfigClient.request rounds itself (reported to the runtime's owner).
 */
function wholeMillisecondTimeouts(client: KubeClient): KubeClient {
  return {
    request: (method, path, options) =>
      client.request(method, path, options?.timeoutMs === undefined ? options : { ...options, timeoutMs: Math.ceil(options.timeoutMs) }),
    watch: (path, query, onEvent, signal) => client.watch(path, query, onEvent, signal),
  };
}

export class ControllerManager {
  private readonly options: ControllerManagerOptions;
  private readonly logger: Logger;
  private readonly metrics: ControllerMetrics;
  private readonly elector: LeaderElector;

  constructor(options: ControllerManagerOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'controller-manager' });
    this.metrics = new ControllerMetrics(options.metrics);
    this.metrics.leader.set({ name: LEASE_NAME }, 0);
    this.elector = new LeaderElector({
      client: wholeMillisecondTimeouts(new KubeConfigClient(options.cluster)),
      namespace: options.leaseNamespace ?? DEFAULT_LEASE_NAMESPACE,
      name: LEASE_NAME,
      identity: options.identity ?? defaultIdentity(),
      logger: this.logger,
      onStartedLeading: (signal) => this.lead(signal),
      onStoppedLeading: () => this.metrics.leader.set({ name: LEASE_NAME }, 0),
    });
  }

  get identity(): string {
    return this.elector.identity;
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  start(): void {
    this.elector.start();
  }

  /** Stops the controllers (waiting for in-flight reconciles) and releases the lease. */
  stop(): Promise<void> {
    return this.elector.stop();
  }

  /** One leadership term: runs the controllers until `signal` aborts. */
  private async lead(signal: AbortSignal): Promise<void> {
    this.metrics.leader.set({ name: LEASE_NAME }, 1);
    const client = new KubeConfigClient(this.options.cluster);
    const store = this.options.registry.store('databases');
    if (!store) throw new Error('the registry serves no databases');
    const children = childInformers({ client, labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}`, logger: this.logger });
    const own = <T extends KubeObject>(plural: string): { objects: OwnObjects<T>; informer: StoreInformer<T> } => {
      const store = this.options.registry.store(plural);
      if (!store) throw new Error(`the registry serves no ${plural}`);
      return { objects: new OwnObjects<T>(store), informer: new StoreInformer<T>({ storage: store.storage, prefix: store.prefix(undefined), logger: this.logger }) };
    };
    const databases = own<Database>('databases');
    const backups = own<Backup>('backups');
    const restores = own<Restore>('restores');
    const events = new EventRecorder({ client, instance: this.elector.identity, logger: this.logger });
    const writer = new ChildWriter(client);
    const namespace = this.options.leaseNamespace ?? DEFAULT_LEASE_NAMESPACE;
    const catalogConfigMaps = new ClusterInformer({
      client,
      type: resourceTypes.ConfigMap,
      namespace,
      fieldSelector: `metadata.name=${IMAGE_CATALOG_CONFIGMAP}`,
      logger: this.logger,
    });
    const images = new ImageCatalogSource({
      file: this.options.imageCatalog,
      configMaps: catalogConfigMaps,
      namespace,
      agentImage: this.options.agentImage,
      logger: this.logger,
    });
    // Read at each Job built, so a catalog edit reaches the next backup.
    const agent: AgentSettings = {
      get image() {
        return images.agentImage();
      },
      serviceAccountName: AGENT_SERVICE_ACCOUNT,
    };
    const access = new AgentAccess(client, AGENT_SERVICE_ACCOUNT);
    const workers = this.options.workers ?? 4;

    const databaseReconciler = new DatabaseReconciler({
      databases: databases.objects,
      backups: backups.objects,
      backupCache: backups.informer,
      client,
      informers: children,
      events,
      images,
    });
    const databaseController = new Controller({ name: 'database', reconcile: this.measured('database', databaseReconciler.reconcile), workers, logger: this.logger })
      .for(databases.informer)
      .watches(backups.informer, byDatabaseName);
    for (const kind of OWNED) databaseController.watches(children[kind], byControllerOwner(GROUP, 'Database'));
    for (const kind of LABELLED) databaseController.watches(children[kind], byLabel(DATABASE_LABEL));
    // A catalog change may change the image of every Database.
    databaseController.watches(catalogConfigMaps, () => databases.informer.list().map(objectKey));

    const backupReconciler = new BackupReconciler({
      backups: backups.objects,
      databases: databases.objects,
      client,
      jobs: children.Job,
      pods: children.Pod,
      children: writer,
      access,
      agent,
      events,
    });
    const backupController = new Controller({ name: 'backup', reconcile: this.measured('backup', backupReconciler.reconcile), workers, logger: this.logger })
      .for(backups.informer)
      .watches(children.Job, byControllerOwner(GROUP, 'Backup'))
      .watches(children.Pod, byLabel(BACKUP_LABEL))
      // A Backup waiting for its Database to become ready starts when it does.
      .watches(databases.informer, (db) => backupsWaitingFor(backups.informer, db));

    const restoreReconciler = new RestoreReconciler({
      restores: restores.objects,
      restoreCache: restores.informer,
      backups: backups.objects,
      databases: databases.objects,
      client,
      informers: children,
      children: writer,
      access,
      agent,
      events,
    });
    const restoreController = new Controller({ name: 'restore', reconcile: this.measured('restore', restoreReconciler.reconcile), workers, logger: this.logger })
      .for(restores.informer)
      .watches(children.Job, byControllerOwner(GROUP, 'Restore'))
      .watches(children.Pod, byLabel(RESTORE_LABEL))
      .watches(backups.informer, (backup) => restoresOf(restores.informer, backup.metadata.namespace, (r) => r.status?.safetyBackupName === backup.metadata.name))
      .watches(databases.informer, (db) => restoresOf(restores.informer, db.metadata.namespace, (r) => (r.status?.plan as { targetDatabase?: string } | undefined)?.targetDatabase === db.metadata.name));
    for (const kind of LABELLED) restoreController.watches(children[kind], (obj) => restoresOfLabelled(restores.informer, obj));

    const informers = [databases.informer, backups.informer, restores.informer, catalogConfigMaps, ...Object.values(children)];
    for (const informer of informers) informer.start();
    try {
      await Promise.all([databaseController.run(signal), backupController.run(signal), restoreController.run(signal)]);
    } finally {
      await Promise.all(informers.map((informer) => informer.stop()));
    }
  }

  /** `reconcile` with its outcome counted and timed, and logged at debug level. */
  private measured(name: string, reconcile: Reconcile): Reconcile {
    return async (key, signal) => {
      const started = performance.now();
      const log = this.logger.child({ controller: name, key: keyString(key) });
      log.debug('reconciling');
      try {
        const result = await reconcile(key, signal);
        this.metrics.reconciles.inc({ controller: name, result: result?.requeueAfter ? 'requeue_after' : 'success' });
        return result;
      } catch (err) {
        this.metrics.reconciles.inc({ controller: name, result: 'error' });
        throw err;
      } finally {
        const seconds = (performance.now() - started) / 1000;
        this.metrics.durations.observe({ controller: name }, seconds);
        log.debug({ ms: Math.round(seconds * 1000) }, 'reconciled');
      }
    };
  }
}
