// `npm run bench -- --controller`: how long N Databases take to become Ready on the local control plane (kwok makes
// pods Ready), beside the floor for any controller: the same child objects sent to the same kube-apiserver directly,
// both how long it takes to accept them and how long their StatefulSets then take to have a ready member (the work
// of kube-controller-manager, the scheduler and kwok, which no controller of ours can shorten). Both sides send with
// the same concurrency, each Database's objects in the order the controller writes them.
//
// Ready counts from the first create to the last Database whose status says Ready. The floor runs after the
// controller, in a namespace of its own, with volumes of its own provisioned just before it starts.
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { Database } from '../../src/api/database.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import { findCondition } from '../../src/controller/conditions.ts';
import { applyObject } from '../../src/controller/runtime/apply.ts';
import { KubeConfigClient, type KubeClient } from '../../src/controller/runtime/client.ts';
import { resourcePath, resourceTypeOf, resourceTypes, type ResourceType } from '../../src/controller/runtime/kinds.ts';
import { randomPassword } from '../../src/engines/credentials.ts';
import { engineFor } from '../../src/engines/registry.ts';
import { httpsRequest } from '../cluster/client.ts';
import { kubectl } from '../cluster/kubectl.ts';
import { startStrongroomCluster } from '../cluster/strongroom.ts';
import { provisionPersistentVolumes } from '../cluster/volumes.ts';
import { percentile } from './stats.ts';

export interface ControllerBenchOptions {
  databases: number;
  /** Requests (creates on one side, Databases' children on the other) in flight at once. */
  concurrency: number;
  out: string;
}

export const CONTROLLER_USAGE = `Usage: node test/bench/run.ts --controller [--databases 200] [--concurrency 16] [--out bench-controller.json]`;

export function parseControllerOptions(args: string[]): ControllerBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      controller: { type: 'boolean' },
      databases: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '16' },
      out: { type: 'string', default: 'bench-controller.json' },
    },
  });
  const integer = (flag: 'databases' | 'concurrency'): number => {
    const value = Number(values[flag]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag}: not a positive integer: ${values[flag]}`);
    return value;
  };
  return { databases: integer('databases'), concurrency: integer('concurrency'), out: values.out! };
}

export interface ControllerReport {
  generatedAt: string;
  node: string;
  parameters: ControllerBenchOptions;
  engine: string;
  /** Objects the controller writes per Database (credentials Secret included). */
  childrenPerDatabase: number;
  controller: {
    /** First create to the last Database Ready. */
    allReadySeconds: number;
    /** Each Database's create to its Ready. */
    readyP50Seconds: number;
    readyP99Seconds: number;
    /** The creates alone, through the aggregator. */
    createsSeconds: number;
    reconciles: number;
    reconcileErrors: number;
  };
  floor: {
    /** The same children sent directly to kube-apiserver: first to last accepted. */
    acceptSeconds: number;
    /** First sent to the last StatefulSet with a ready member. */
    allReadySeconds: number;
    objects: number;
  };
}

const ENGINE = 'postgres';
const GROUP_VERSION = 'strongroom.dev/v1alpha1';
const DATABASES = resourceTypeOf(GROUP_VERSION, 'Database');
const progress = (message: string) => process.stderr.write(`[bench:controller] ${message}\n`);
const name = (i: number) => `db-${String(i).padStart(4, '0')}`;

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/**
 * Resolves with the first time (ms, performance.now) each of `names` satisfied `isReady`, once all have, watching
 * `type` in `namespace`. A watch that ends at its timeout is opened again (ready objects are simply seen again).
 */
function watchReady(
  client: KubeClient,
  type: ResourceType,
  namespace: string,
  names: readonly string[],
  isReady: (obj: KubeObject) => boolean,
  signal: AbortSignal,
): Promise<Map<string, number>> {
  const ready = new Map<string, number>();
  const wanted = new Set(names);
  return new Promise((resolve, reject) => {
    const onEvent = (event: { type: string; object: KubeObject }) => {
      const name = event.object.metadata?.name;
      if (!name || !wanted.has(name) || ready.has(name) || !isReady(event.object)) return;
      ready.set(name, performance.now());
      if (ready.size === wanted.size) resolve(ready);
    };
    const watch = (): void => {
      if (signal.aborted) return;
      client.watch(resourcePath(type, namespace), { timeoutSeconds: 600 }, onEvent, signal).then(watch, (err: unknown) => {
        if (!signal.aborted) reject(err);
      });
    };
    watch();
  });
}

const databaseReady = (obj: KubeObject): boolean => findCondition((obj as Database).status?.conditions, 'Ready')?.status === 'True';
const statefulSetReady = (obj: KubeObject): boolean => (obj.status?.readyReplicas ?? 0) >= (obj.spec?.replicas ?? 1);

/** What the controller writes for a Database, in its order, without owner references (there is no owner here). */
function children(namespace: string, dbName: string): KubeObject[] {
  const db: Database = { apiVersion: GROUP_VERSION, kind: 'Database', metadata: { name: dbName, namespace, uid: dbName }, spec: { engine: ENGINE } };
  const desired = engineFor(ENGINE).desired(db, { credentials: undefined, generatePassword: randomPassword });
  return [desired.credentials, ...desired.objects];
}

async function metric(url: string, identity: Parameters<typeof httpsRequest>[0], pattern: RegExp): Promise<number> {
  const text = (await httpsRequest(identity, 'GET', `${url}/metrics`)).body;
  return [...text.matchAll(pattern)].reduce((sum, match) => sum + Number(match[1]), 0);
}

export async function runControllerBench(options: ControllerBenchOptions): Promise<ControllerReport> {
  progress('starting the control plane with Strongroom');
  // Room for both runs' pods: a kwok node takes 110.
  const cluster = await startStrongroomCluster({ nodes: Math.max(3, Math.ceil((2 * options.databases) / 100)), log: progress });
  try {
    await provisionPersistentVolumes(cluster.kubeconfig, { count: options.databases });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const client = new KubeConfigClient(kc);
    await kubectl(cluster.kubeconfig, ['create', 'namespace', 'bench']);
    await kubectl(cluster.kubeconfig, ['create', 'namespace', 'bench-floor']);
    const names = Array.from({ length: options.databases }, (_, i) => name(i));

    progress(`creating ${names.length} ${ENGINE} Databases`);
    const stop = new AbortController();
    const readyAt = watchReady(client, DATABASES, 'bench', names, databaseReady, stop.signal);
    const createdAt = new Map<string, number>();
    const start = performance.now();
    await pool(names, options.concurrency, async (dbName) => {
      createdAt.set(dbName, performance.now());
      await client.request('POST', resourcePath(DATABASES, 'bench'), {
        body: { apiVersion: GROUP_VERSION, kind: 'Database', metadata: { name: dbName }, spec: { engine: ENGINE, deletionPolicy: 'Delete' } },
      });
    });
    const createsSeconds = (performance.now() - start) / 1000;
    progress(`created in ${createsSeconds.toFixed(1)} s; waiting for Ready`);
    const ready = await readyAt;
    stop.abort();
    const allReadySeconds = (Math.max(...ready.values()) - start) / 1000;
    const latencies = names.map((dbName) => (ready.get(dbName)! - createdAt.get(dbName)!) / 1000);
    progress(`all Ready after ${allReadySeconds.toFixed(1)} s`);

    const identity = { caPem: cluster.strongroomCAPem, client: cluster.controlPlane.admin.client };
    const reconciles = await metric(cluster.strongroomURL, identity, /^controller_runtime_reconcile_total\{[^}]*controller="database"[^}]*\} (\S+)$/gm);
    const reconcileErrors = await metric(cluster.strongroomURL, identity, /^controller_runtime_reconcile_total\{[^}]*result="error"[^}]*\} (\S+)$/gm);

    const perDatabase = names.map((dbName) => children('bench-floor', dbName));
    const objects = perDatabase.reduce((sum, list) => sum + list.length, 0);
    // Volumes of its own: each claim binds one for good, and the controller's run took the first ones.
    await provisionPersistentVolumes(cluster.kubeconfig, { count: options.databases });
    progress(`sending the same ${objects} children to kube-apiserver directly`);
    const floorStop = new AbortController();
    const floorReadyAt = watchReady(client, resourceTypes.StatefulSet, 'bench-floor', names, statefulSetReady, floorStop.signal);
    const floorStart = performance.now();
    await pool(perDatabase, options.concurrency, async (list) => {
      const [credentials, ...rest] = list;
      await client.request('POST', resourcePath(resourceTypes.Secret, 'bench-floor'), { query: { fieldManager: 'strongroom' }, body: credentials });
      for (const obj of rest) await applyObject(client, obj);
    });
    const acceptSeconds = (performance.now() - floorStart) / 1000;
    progress(`accepted in ${acceptSeconds.toFixed(1)} s; waiting for the StatefulSets`);
    const floorReady = await floorReadyAt;
    floorStop.abort();
    const floorReadySeconds = (Math.max(...floorReady.values()) - floorStart) / 1000;
    progress(`every StatefulSet has a ready member after ${floorReadySeconds.toFixed(1)} s`);

    return {
      generatedAt: new Date().toISOString(),
      node: process.version,
      parameters: options,
      engine: ENGINE,
      childrenPerDatabase: perDatabase[0]!.length,
      controller: {
        allReadySeconds,
        readyP50Seconds: percentile(latencies, 0.5),
        readyP99Seconds: percentile(latencies, 0.99),
        createsSeconds,
        reconciles,
        reconcileErrors,
      },
      floor: { acceptSeconds, allReadySeconds: floorReadySeconds, objects },
    };
  } finally {
    await cluster.stop();
  }
}

export function renderControllerTable(report: ControllerReport): string {
  const { controller, floor, parameters } = report;
  const s = (seconds: number) => seconds.toFixed(1);
  const rows = [
    ['measure', 'seconds'],
    [`${parameters.databases} ${report.engine} Databases: first create → all Ready`, s(controller.allReadySeconds)],
    ['  each Database, create → Ready: p50', s(controller.readyP50Seconds)],
    ['  each Database, create → Ready: p99', s(controller.readyP99Seconds)],
    ['  the creates alone (through the aggregator)', s(controller.createsSeconds)],
    [`floor: the same ${floor.objects} children sent to kube-apiserver directly: accepted`, s(floor.acceptSeconds)],
    ['floor: … and every StatefulSet with a ready member', s(floor.allReadySeconds)],
    ['ratio: all Ready / floor with ready members', `${(controller.allReadySeconds / floor.allReadySeconds).toFixed(1)}×`],
    ['ratio: all Ready / floor accepted', `${(controller.allReadySeconds / floor.acceptSeconds).toFixed(1)}×`],
  ];
  const widths = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r[0]!.padEnd(widths[0]!)} | ${r[1]!.padStart(widths[1]!)} |`;
  return [line(rows[0]!), `|${'-'.repeat(widths[0]! + 2)}|${'-'.repeat(widths[1]! + 1)}:|`, ...rows.slice(1).map(line)].join('\n') +
    `\n\n${controller.reconciles} reconciles (${controller.reconcileErrors} failed and retried); ${report.childrenPerDatabase} children per Database.`;
}
