// The controller manager (controller-runtime's Manager): in cluster mode every Strongroom replica contends for the
// Lease, and only its holder runs the controllers. Each leadership term starts from nothing — new informers, a new
// work queue, a new reconciler — and ends, when the lease is lost or the process stops, with the workers drained and
// the informers stopped, before another replica may take over. Every replica keeps serving the API meanwhile.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry as MetricsRegistry } from 'prom-client';
import type { Database } from '../api/database.ts';
import { GROUP } from '../api/meta.ts';
import { MANAGED_BY, DATABASE_LABEL } from '../engines/common.ts';
import type { Registry } from '../registry/registry.ts';
import { DatabaseReconciler } from './database/reconciler.ts';
import { EventRecorder } from './events.ts';
import { OwnObjects } from './ownobjects.ts';
import { KubeConfigClient, type KubeClient } from './runtime/client.ts';
import { byControllerOwner, byLabel, Controller, keyString, type Reconcile } from './runtime/controller.ts';
import { childInformers, type ChildKind } from './runtime/informer.ts';
import { defaultIdentity, LeaderElector } from './runtime/leaderelection.ts';
import { StoreInformer } from './runtime/ownwatch.ts';

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
}

/** Children the controller creates, found by their controller reference; Pods and claims carry only the label. */
const OWNED: readonly ChildKind[] = ['StatefulSet', 'Service', 'Secret', 'ConfigMap', 'PodDisruptionBudget', 'NetworkPolicy', 'Job'];
const LABELLED: readonly ChildKind[] = ['Pod', 'PersistentVolumeClaim'];

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
    const databases = new StoreInformer<Database>({ storage: store.storage, prefix: store.prefix(undefined), logger: this.logger });
    const reconciler = new DatabaseReconciler({
      databases: new OwnObjects<Database>(store),
      client,
      informers: children,
      events: new EventRecorder({ client, instance: this.elector.identity, logger: this.logger }),
    });
    const controller = new Controller({
      name: 'database',
      reconcile: this.measured('database', reconciler.reconcile),
      workers: this.options.workers ?? 4,
      logger: this.logger,
    }).for(databases);
    for (const kind of OWNED) controller.watches(children[kind], byControllerOwner(GROUP, 'Database'));
    for (const kind of LABELLED) controller.watches(children[kind], byLabel(DATABASE_LABEL));

    databases.start();
    for (const informer of Object.values(children)) informer.start();
    try {
      await controller.run(signal);
    } finally {
      await Promise.all([databases.stop(), ...Object.values(children).map((informer) => informer.stop())]);
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
