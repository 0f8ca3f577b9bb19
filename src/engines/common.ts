// The pieces every engine builds the same way: names, labels, DNS names, Services, the disruption budget, the network
// policy, configuration and connection objects, and the skeleton of the StatefulSet. Maps are built in sorted key
// order and everything else in a fixed order, so equal input serialises to equal bytes.
import { createHash } from 'node:crypto';
import type { Database } from '../api/database.ts';
import type { KubeObject, ObjectMeta } from '../api/meta.ts';
// The one value src/engines takes from src/api: a leaf module that imports nothing, so no cycle can pass through it.
import { parseQuantity } from '../api/quantity.ts';
import type { EngineContext, UpgradeKind } from './engine.ts';
import { majorOf, type VersionRules } from './versions.ts';

/** On every child of a Database (and on its Backups and Restores): the Database's name. */
export const DATABASE_LABEL = 'strongroom.dev/database';
export const MANAGED_BY = 'strongroom';
/**
 * Pods carrying `strongroom.dev/client-of: <database>` may reach that database's client port through its
 * NetworkPolicy. Applications put it on their pod template; Strongroom puts it on the Jobs it runs against a database.
 */
export const CLIENT_OF_LABEL = 'strongroom.dev/client-of';
/**
 * The part a pod plays for its database: `primary` or `replica` on postgres and redis members (the controller keeps
 * it current, see `memberRole`), `backup-agent` on the pods of backup and restore Jobs.
 */
export const ROLE_LABEL = 'strongroom.dev/role';
export const BACKUP_AGENT_ROLE = 'backup-agent';
/** On the pod template: a hash of the engine configuration, so a change of `spec.parameters` rolls the pods. */
export const CONFIG_HASH_ANNOTATION = 'strongroom.dev/config-hash';
/** Set by the StatefulSet controller on each of its pods. */
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
/** The volume claim template of the data volume; its claims are `data-<database>-<ordinal>`. */
export const DATA_VOLUME = 'data';

/** What an object is for, in `app.kubernetes.io/component`. */
export type Component = 'database' | 'init' | 'membership';

export interface NamedPort {
  name: string;
  port: number;
}

/** The name and namespace of a Database; a Database without them is a programming error, not a user's. */
export function identity(db: Database): { name: string; namespace: string } {
  const { name, namespace } = db.metadata;
  if (!name || !namespace) throw new Error('a Database needs a name and a namespace to have children');
  return { name, namespace };
}

/** The names of the children every engine has, all derived from the Database name. */
export function childNames(db: Database) {
  const { name } = identity(db);
  return {
    statefulSet: name,
    /** Gives each member a stable DNS name: `<database>-<ordinal>.<database>-headless`. */
    headless: `${name}-headless`,
    /** Where clients connect: the primary for postgres and redis, every member for etcd. */
    client: name,
    readOnly: `${name}-ro`,
    config: `${name}-config`,
    credentials: `${name}-credentials`,
    connection: `${name}-connection`,
    disruptionBudget: name,
    networkPolicy: name,
    initJob: `${name}-init`,
  };
}

export function memberName(db: Database, ordinal: number): string {
  return `${identity(db).name}-${ordinal}`;
}

/** The ordinal of a StatefulSet pod name (`orders-2` → 2), or undefined when the name does not end in one. */
export function ordinalOf(podName: string): number | undefined {
  const match = /-(0|[1-9][0-9]*)$/.exec(podName);
  return match ? Number(match[1]) : undefined;
}

function sorted<T>(entries: Iterable<[string, T]>): Record<string, T> {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The labels on every child: the recommended `app.kubernetes.io` set plus `strongroom.dev/database`. */
export function labels(db: Database, component: Component = 'database'): Record<string, string> {
  const { name } = identity(db);
  return sorted([
    ['app.kubernetes.io/component', component],
    ['app.kubernetes.io/instance', name],
    ['app.kubernetes.io/managed-by', MANAGED_BY],
    ['app.kubernetes.io/name', db.spec.engine],
    [DATABASE_LABEL, name],
  ]);
}

/** The labels that pick the members. They never change: a StatefulSet selector is immutable. */
export function selectorLabels(db: Database): Record<string, string> {
  return sorted([
    ['app.kubernetes.io/component', 'database'],
    ['app.kubernetes.io/name', db.spec.engine],
    [DATABASE_LABEL, identity(db).name],
  ]);
}

/** The member selector in string form, for `status.selector` (the scale subresource and the HPA read it). */
export function selectorString(db: Database): string {
  return Object.entries(selectorLabels(db))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export function metadata(db: Database, name: string, component: Component = 'database'): ObjectMeta {
  return { name, namespace: identity(db).namespace, labels: labels(db, component) };
}

function clusterDomain(ctx: Pick<EngineContext, 'clusterDomain'>): string {
  return ctx.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
}

/** The DNS name of a Service of the database. Clients get names, never ClusterIPs or pod IPs. */
export function serviceHost(db: Database, service: string, ctx: Pick<EngineContext, 'clusterDomain'>): string {
  return `${service}.${identity(db).namespace}.svc.${clusterDomain(ctx)}`;
}

/** The stable DNS name of a member (or of `$(POD_NAME)` in a pod template), through the headless Service. */
export function memberHost(db: Database, member: string, ctx: Pick<EngineContext, 'clusterDomain'>): string {
  return `${member}.${serviceHost(db, childNames(db).headless, ctx)}`;
}

function servicePorts(ports: readonly NamedPort[]) {
  return ports.map((p) => ({ name: p.name, port: p.port, protocol: 'TCP', targetPort: p.name }));
}

export function containerPorts(ports: readonly NamedPort[]) {
  return ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' }));
}

/**
 * The headless Service behind the members' DNS names. It publishes members before they are ready: members must
 * find each other while they start (an etcd member cannot become ready before it has reached its peers).
 */
export function headlessService(db: Database, ports: readonly NamedPort[]): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(db, childNames(db).headless),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(db),
      ports: servicePorts(ports),
    },
  };
}

/** A ClusterIP Service over the members that also match `extraSelector`. */
export function clientService(
  db: Database,
  name: string,
  ports: readonly NamedPort[],
  extraSelector: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(db, name),
    spec: {
      type: 'ClusterIP',
      selector: sorted([...Object.entries(selectorLabels(db)), ...Object.entries(extraSelector)]),
      ports: servicePorts(ports),
    },
  };
}

/** The selector of the read-write Service of a primary/replica engine: the pod of ordinal 0. */
export function primarySelector(db: Database): Record<string, string> {
  return { [POD_NAME_LABEL]: memberName(db, 0) };
}

export function podDisruptionBudget(db: Database, budget: { maxUnavailable: number } | { minAvailable: number }): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(db, childNames(db).disruptionBudget),
    spec: { ...budget, selector: { matchLabels: selectorLabels(db) } },
  };
}

function networkPorts(ports: readonly NamedPort[]) {
  return ports.map((p) => ({ protocol: 'TCP', port: p.port }));
}

/**
 * Ingress to the members: members reach each other on every member port; pods labelled as clients of the database,
 * and its backup and restore agents, reach the client ports. Nothing else gets in.
 */
export function networkPolicy(db: Database, memberPorts: readonly NamedPort[], clientPorts: readonly NamedPort[]): KubeObject {
  const { name } = identity(db);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metadata(db, childNames(db).networkPolicy),
    spec: {
      podSelector: { matchLabels: selectorLabels(db) },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: selectorLabels(db) } }], ports: networkPorts(memberPorts) },
        {
          from: [
            { podSelector: { matchLabels: { [CLIENT_OF_LABEL]: name } } },
            { podSelector: { matchLabels: sorted([[DATABASE_LABEL, name], [ROLE_LABEL, BACKUP_AGENT_ROLE]]) } },
          ],
          ports: networkPorts(clientPorts),
        },
      ],
    },
  };
}

export function configMap(db: Database, name: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata(db, name), data: sorted(Object.entries(data)) };
}

/** A SHA-256 of configuration data, independent of key order. */
export function configHash(data: Record<string, string>): string {
  return createHash('sha256').update(JSON.stringify(Object.entries(sorted(Object.entries(data))))).digest('hex');
}

/** Secret `data` from plain values. `data` rather than `stringData`: the API stores data, so an apply repeats it exactly. */
export function encodeData(values: Record<string, string>): Record<string, string> {
  return sorted(Object.entries(values).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')]));
}

export function decodeData(secret: KubeObject | undefined): Record<string, string> {
  const data = (secret?.data ?? {}) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(data)
      .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
      .map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
  );
}

/** What applications mount to connect: host, port, username, password and uri, plus engine extras such as database. */
export interface ConnectionDetails {
  host: string;
  port: string;
  username: string;
  password: string;
  uri: string;
  [extra: string]: string;
}

export function connectionSecret(db: Database, details: ConnectionDetails): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(db, childNames(db).connection),
    type: 'Opaque',
    data: encodeData(details),
  };
}

/** An environment variable from a key of the credentials Secret. */
export function credentialEnv(db: Database, name: string, key: string) {
  return { name, valueFrom: { secretKeyRef: { name: childNames(db).credentials, key } } };
}

/** `POD_NAME`, which kubelet substitutes for `$(POD_NAME)` in the container's command, args and later env values. */
export const POD_NAME_ENV = { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } };

/** Non-root with the engine's own user and group; fsGroup makes the data volume writable by it. */
export function podSecurityContext(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export const CONTAINER_SECURITY_CONTEXT = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

/** `spec.resources` as container resources, quantities as strings (as the API returns them). */
export function containerResources(db: Database) {
  const resources: Record<string, Record<string, string>> = {};
  for (const kind of ['limits', 'requests'] as const) {
    const list = db.spec.resources?.[kind];
    const entries = Object.entries(list ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined);
    if (entries.length > 0) resources[kind] = sorted(entries.map(([name, q]) => [name, String(q)]));
  }
  return resources;
}

/** The memory limit in bytes, from which engines size their caches so they stay clear of the OOM killer. */
export function memoryLimitBytes(db: Database): number | undefined {
  const limit = db.spec.resources?.limits?.memory;
  return limit === undefined ? undefined : Math.floor(parseQuantity(limit));
}

/** Spread members over nodes when the scheduler can: one node going down then takes one member with it. */
export function podAntiAffinity(db: Database) {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { labelSelector: { matchLabels: selectorLabels(db) }, topologyKey: 'kubernetes.io/hostname' },
        },
      ],
    },
  };
}

export type ProbeHandler =
  | { exec: { command: string[] } }
  | { httpGet: { path: string; port: string; scheme: 'HTTP' } }
  | { tcpSocket: { port: string } };

export const execProbe = (...command: string[]): ProbeHandler => ({ exec: { command } });
export const httpProbe = (path: string, port: string): ProbeHandler => ({ httpGet: { path, port, scheme: 'HTTP' } });
export const tcpProbe = (port: string): ProbeHandler => ({ tcpSocket: { port } });

/**
 * The three probes with one timing for every engine. The startup probe gives a member ten minutes to replay its log
 * or load its snapshot after any start; liveness applies only after that, so a long recovery is not killed halfway.
 */
export function probes(handlers: { startup: ProbeHandler; readiness: ProbeHandler; liveness: ProbeHandler }) {
  return {
    startupProbe: { ...handlers.startup, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 120 },
    readinessProbe: { ...handlers.readiness, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
    livenessProbe: { ...handlers.liveness, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
  };
}

function volumeClaimTemplate(db: Database) {
  const storage = db.spec.storage;
  return {
    metadata: { name: DATA_VOLUME, labels: labels(db) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storage?.storageClassName ? { storageClassName: storage.storageClassName } : {}),
      resources: { requests: { storage: String(storage?.size ?? '1Gi') } },
    },
  };
}

/**
 * The claim templates of the live StatefulSet when there is one: the API refuses any change to them, so a grown
 * `spec.storage.size` reaches the volumes by resizing the claims, not through the template.
 */
function volumeClaimTemplates(db: Database, live: KubeObject | undefined): unknown[] {
  const templates = live?.spec?.volumeClaimTemplates as Record<string, unknown>[] | undefined;
  if (!templates) return [volumeClaimTemplate(db)];
  return templates.map(({ status: _status, ...template }) => template);
}

export interface StatefulSetParts {
  replicas: number;
  /** OrderedReady when members start from one another (a replica needs its primary), Parallel when they must start together. */
  podManagementPolicy: 'OrderedReady' | 'Parallel';
  configHash: string;
  uid: number;
  initContainers?: unknown[];
  containers: unknown[];
  /** Beside the data volume, which the claim template provides. */
  volumes?: unknown[];
  terminationGracePeriodSeconds?: number;
}

/**
 * The StatefulSet of the members. Updates roll one pod at a time from the highest ordinal down, so replicas update
 * before the primary (ordinal 0) and an etcd cluster loses at most one member at a time. Claims of members removed by
 * scaling down are deleted (a member added later must start from scratch, not from stale data); claims outlive a
 * deleted StatefulSet, which the controller puts back, and the controller deletes them as `deletionPolicy` says.
 */
export function statefulSet(db: Database, ctx: EngineContext, parts: StatefulSetParts): KubeObject {
  const names = childNames(db);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: metadata(db, names.statefulSet),
    spec: {
      replicas: parts.replicas,
      serviceName: names.headless,
      selector: { matchLabels: selectorLabels(db) },
      podManagementPolicy: parts.podManagementPolicy,
      updateStrategy: { type: 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Delete' },
      template: {
        metadata: { labels: labels(db), annotations: { [CONFIG_HASH_ANNOTATION]: parts.configHash } },
        spec: {
          enableServiceLinks: false,
          securityContext: podSecurityContext(parts.uid),
          affinity: podAntiAffinity(db),
          ...(parts.terminationGracePeriodSeconds === undefined
            ? {}
            : { terminationGracePeriodSeconds: parts.terminationGracePeriodSeconds }),
          ...(parts.initContainers ? { initContainers: parts.initContainers } : {}),
          containers: parts.containers,
          ...(parts.volumes ? { volumes: parts.volumes } : {}),
        },
      },
      volumeClaimTemplates: volumeClaimTemplates(db, ctx.statefulSet),
    },
  };
}

/**
 * A Job that works on a running database (first-time setup, membership changes). Its pods are clients of the
 * database for the NetworkPolicy; a failed pod is replaced, so the script it runs must be idempotent.
 */
export function job(db: Database, name: string, component: Component, uid: number, containers: unknown[]): KubeObject {
  const podLabels = sorted([...Object.entries(labels(db, component)), [CLIENT_OF_LABEL, identity(db).name]]);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: metadata(db, name, component),
    spec: {
      backoffLimit: 6,
      template: {
        metadata: { labels: podLabels },
        spec: {
          restartPolicy: 'Never',
          enableServiceLinks: false,
          securityContext: podSecurityContext(uid),
          containers,
        },
      },
    },
  };
}

/** The parameters in key order. */
export function sortedParameters(db: Database): [string, string][] {
  return Object.entries(db.spec.parameters ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
}

/**
 * An engine's configuration file, one setting a line: Strongroom's defaults first, then `spec.parameters` in key order
 * (a later line wins), then what Strongroom manages, so that no parameter can override it.
 */
export function configFile(
  db: Database,
  settings: { defaults: [string, string][]; managed: [string, string][] },
  line: (setting: [string, string]) => string,
): string {
  const { name, namespace } = identity(db);
  return [
    `# Written by Strongroom for Database ${namespace}/${name}: change spec.parameters instead.`,
    ...settings.defaults.map(line),
    ...sortedParameters(db).map(line),
    '# Managed by Strongroom.',
    ...settings.managed.map(line),
    '',
  ].join('\n');
}

/** The version of the spec, or `defaultVersion` when the API has not defaulted it (it always does). */
export function versionOf(db: Database, defaultVersion: string): string {
  return db.spec.version ?? defaultVersion;
}

/**
 * The Docker Official Image of `engine` that runs `version`, for a version the API accepted. The official images name
 * their tags by version exactly as `spec.version` does ("17", "17.2", "7.2.5").
 */
export function officialImage(engine: string, version: string): string {
  return `docker.io/library/${engine}:${version}`;
}

/**
 * The kind of a version change: none when the image stays, minor within a major, major across majors (and whenever
 * either version is malformed, so that nothing unknown is rolled out).
 */
export function upgradeKind(rules: VersionRules, image: (version: string) => string, from: string, to: string): UpgradeKind {
  const fromMajor = majorOf(rules, from);
  const toMajor = majorOf(rules, to);
  if (fromMajor === undefined || toMajor === undefined || fromMajor !== toMajor) return 'major';
  return image(from) === image(to) ? 'none' : 'minor';
}
