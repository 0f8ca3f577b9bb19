// etcd: an n-member cluster on a StatefulSet, every member a voter once it has caught up.
//
// Bootstrap: all initial members start at once (podManagementPolicy Parallel) with `initial-cluster-state new` and
// an `initial-cluster` naming each member by its stable DNS name on the headless Service. They must start together:
// a member is not Ready until a quorum of the initial members has formed a cluster, so OrderedReady would wait for
// member 0 to be Ready before starting member 1, and member 0 would wait for member 1 forever.
//
// Scaling: the controller changes membership one step at a time as `planMembership` (membership.ts) says: a new member joins as a
// learner (which does not count toward the quorum), is promoted once it has caught up, and members leave from the
// highest ordinal down. The StatefulSet's replica count follows the recorded members, not spec.replicas: a pod starts
// only for a member that the cluster already knows. Membership changes run as Jobs (`membershipJob`).
//
// Configuration: `spec.parameters` become ETCD_* variables in `<database>-config`, hashed into the pod template.
// The bootstrap settings live in `<database>-cluster`, outside the hash: etcd reads them only on a member's first
// start, so rewriting them when membership changes must not restart the running members.
//
// Authentication: the init Job creates the `root` user with the generated password and enables authentication once
// the members run. Probes use the metrics listener, which serves the health endpoints without authentication.
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { parseQuantity } from '../../api/quantity.ts';
import {
  childNames,
  clientService,
  configHash,
  configMap,
  connectionSecret,
  CONTAINER_SECURITY_CONTEXT,
  containerPorts,
  containerResources,
  credentialEnv,
  DATA_VOLUME,
  headlessService,
  httpProbe,
  identity,
  job,
  memberHost,
  memberName,
  networkPolicy,
  ordinalOf,
  podDisruptionBudget,
  POD_NAME_ENV,
  probes,
  selectorString,
  serviceHost,
  sortedParameters,
  statefulSet,
  tcpProbe,
  versionOf,
  type NamedPort,
} from '../common.ts';
import type { Renderable } from '../define.ts';
import type { DesiredState, EngineContext, Member } from '../engine.ts';
import { majorOf, supportedMajor } from '../versions.ts';

export const CLIENT: NamedPort = { name: 'client', port: 2379 };
export const PEER: NamedPort = { name: 'peer', port: 2380 };
/** Health and metrics over plain HTTP without authentication, for the kubelet's probes. */
const METRICS: NamedPort = { name: 'metrics', port: 2381 };
/** Any non-root user: the image runs only the etcd binaries, which need nothing but a writable data volume. */
export const UID = 65532;
const DATA_MOUNT = '/var/lib/etcd';
/** Below the mount, so etcd creates it with the 0700 it insists on. */
export const DATA_SUBPATH = 'data';
const DATA_DIR = `${DATA_MOUNT}/${DATA_SUBPATH}`;
/** etcd's recommended upper bound for the backend. */
const MAX_QUOTA_BYTES = 8 * 2 ** 30;

export const ETCD_CREDENTIALS = { root: 'root-password' } as const;
export const DEFAULT_VERSION = '3.5';

/**
 * The release a minor runs when the Database names no patch. The images are the Kubernetes project's builds of etcd
 * (the etcd it runs itself): unlike the upstream distroless image they include a shell, which the Jobs need.
 */
const RELEASES: Readonly<Record<string, string>> = { '3.4': '3.4.13', '3.5': '3.5.21', '3.6': '3.6.4' };
/** The first patch of each minor that serves /livez and /readyz; 3.4 keeps the older probes, which every 3.4 has. */
const LIVEZ_SINCE: Readonly<Record<string, number>> = { '3.5': 11, '3.6': 0 };

/** The versions etcd accepts; index.ts declares them to the API. */
export const VERSIONS = { majors: ['3.4', '3.5', '3.6'], versionPattern: /^(\d+\.\d+)(?:\.\d+)?$/ };

function release(version: string): string {
  const minor = supportedMajor(VERSIONS, version);
  const pinned = minor === undefined ? undefined : RELEASES[minor];
  if (pinned === undefined) throw new Error(`no etcd release is pinned for ${version}`);
  return version === minor ? pinned : version;
}

export function defaultImage(version: string): string {
  return `registry.k8s.io/etcd:${release(version)}-0`;
}

/**
 * Liveness asks only whether this member serves (/livez), readiness whether it serves linearizable reads as a voter
 * (/readyz). A whole cluster without a leader must not be restarted member by member, so liveness never depends on
 * the quorum. Releases without those endpoints get the process listening as liveness and /health as readiness.
 */
function healthProbes(version: string) {
  const since = LIVEZ_SINCE[majorOf(VERSIONS, version)!];
  const patch = Number(release(version).split('.')[2]);
  if (since !== undefined && patch >= since) {
    const livez = httpProbe('/livez', METRICS.name);
    return probes({ startup: livez, readiness: httpProbe('/readyz', METRICS.name), liveness: livez });
  }
  const listening = tcpProbe(CLIENT.name);
  return probes({ startup: listening, readiness: httpProbe('/health', METRICS.name), liveness: listening });
}

/** The environment variable etcd reads a flag from: `snapshot-count` → `ETCD_SNAPSHOT_COUNT`. */
function flagVariable(flag: string): string {
  return `ETCD_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Strongroom's defaults, overridden by `spec.parameters`. */
function configData(db: Database): Record<string, string> {
  const storage = Math.floor(parseQuantity(db.spec.storage?.size ?? '1Gi'));
  const flags: Record<string, string> = {
    // Without compaction the revision history grows until the quota alarm makes the cluster read-only.
    'auto-compaction-mode': 'periodic',
    'auto-compaction-retention': '1h',
    // Hit the quota (a clear NOSPACE alarm) before the volume fills up (a crash).
    'quota-backend-bytes': String(Math.min(MAX_QUOTA_BYTES, Math.floor(storage * 0.8))),
  };
  for (const [key, value] of sortedParameters(db)) flags[key] = value;
  return Object.fromEntries(Object.entries(flags).map(([flag, value]) => [flagVariable(flag), value]));
}

export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** What DNS names depend on. */
type Dns = Pick<EngineContext, 'clusterDomain'>;

export function peerURL(db: Database, member: string, ctx: Dns): string {
  return `http://${memberHost(db, member, ctx)}:${PEER.port}`;
}

export function ordinal(member: Member): number {
  const n = ordinalOf(member.name);
  if (n === undefined) throw new Error(`etcd member ${member.name} is not named <database>-<ordinal>`);
  return n;
}

/** The member names the cluster has or is bootstrapped with, lowest ordinal first. */
function memberNames(db: Database, ctx: EngineContext): string[] {
  if (ctx.members === undefined) return Array.from({ length: db.spec.replicas ?? 1 }, (_, i) => memberName(db, i));
  if (ctx.members.length === 0) throw new Error('an etcd cluster has at least one member; pass undefined to bootstrap one');
  return [...ctx.members].sort((a, b) => ordinal(a) - ordinal(b)).map((m) => m.name);
}

/**
 * Members that have never started read these: bootstrap members start a new cluster with the initial members, a
 * member added later joins the existing one, whose members it must list exactly, itself included.
 */
function clusterData(db: Database, ctx: EngineContext): Record<string, string> {
  const { name, namespace } = identity(db);
  return {
    ETCD_INITIAL_CLUSTER: memberNames(db, ctx)
      .map((member) => `${member}=${peerURL(db, member, ctx)}`)
      .join(','),
    ETCD_INITIAL_CLUSTER_STATE: ctx.members === undefined ? 'new' : 'existing',
    // Keeps members of another cluster that reuses these DNS names from joining this one.
    ETCD_INITIAL_CLUSTER_TOKEN: db.metadata.uid ?? `${namespace}/${name}`,
  };
}

/**
 * The disruption budget keeps a quorum of voters: at least quorum + learners pods available, which is
 * `minAvailable: quorum` once no learner is catching up. A single member has no availability to protect, and a
 * budget that never allows an eviction would only block node drains.
 */
function disruptionBudget(db: Database, ctx: EngineContext): KubeObject {
  const members = ctx.members ?? memberNames(db, ctx).map((name) => ({ name, learner: false, healthy: true }));
  const voters = members.filter((m) => !m.learner).length;
  const learners = members.length - voters;
  return podDisruptionBudget(db, voters > 1 ? { minAvailable: quorum(voters) + learners } : { maxUnavailable: 1 });
}

/** The common environment of Jobs that run etcdctl as root against the client Service. */
function etcdctlEnv(db: Database, ctx: Dns) {
  return [
    { name: 'ETCDCTL_API', value: '3' },
    { name: 'ETCDCTL_ENDPOINTS', value: `http://${serviceHost(db, childNames(db).client, ctx)}:${CLIENT.port}` },
    credentialEnv(db, 'ETCD_ROOT_PASSWORD', ETCD_CREDENTIALS.root),
    // While authentication is off the etcd client carries on without a token, so every Job can always send them.
    { name: 'ETCDCTL_USER', value: 'root:$(ETCD_ROOT_PASSWORD)' },
  ];
}

/** A container running `script` with etcdctl as root against the client Service. */
export function etcdctlContainer(db: Database, ctx: Pick<EngineContext, 'clusterDomain' | 'image'>, script: string, env: { name: string; value: string }[] = []) {
  return {
    name: 'etcdctl',
    image: ctx.image ?? defaultImage(versionOf(db, DEFAULT_VERSION)),
    command: ['sh', '-c', script],
    env: [...etcdctlEnv(db, ctx), ...env],
    securityContext: CONTAINER_SECURITY_CONTEXT,
  };
}

/** Idempotent: each step checks whether it was done, so a retried pod finishes what a failed one started. */
const ENABLE_AUTH_SCRIPT = `set -eu
if roles=$(etcdctl user get root 2>/dev/null); then :; else
  etcdctl user add root --interactive=false --new-user-password="$ETCD_ROOT_PASSWORD"
  roles=''
fi
case "$roles" in
  *"Roles: root"*) ;;
  *)
    etcdctl role get root >/dev/null 2>&1 || etcdctl role add root
    etcdctl user grant-role root root
    ;;
esac
etcdctl auth enable
`;

export function render(db: Database, ctx: EngineContext, { version, image, credentials, passwords }: Renderable): DesiredState {
  const names = childNames(db);
  const config = configMap(db, names.config, configData(db));
  const cluster = configMap(db, clusterConfigName(db), clusterData(db, ctx));
  const host = serviceHost(db, names.client, ctx);
  const connection = connectionSecret(db, {
    host,
    port: String(CLIENT.port),
    username: 'root',
    password: passwords[ETCD_CREDENTIALS.root]!,
    // etcd clients take credentials apart from the endpoint.
    uri: `http://${host}:${CLIENT.port}`,
  });

  const self = memberHost(db, '$(POD_NAME)', ctx);
  const etcd = {
    name: 'etcd',
    image,
    command: ['etcd'],
    args: [
      '--name=$(POD_NAME)',
      `--data-dir=${DATA_DIR}`,
      `--listen-client-urls=http://0.0.0.0:${CLIENT.port}`,
      `--listen-peer-urls=http://0.0.0.0:${PEER.port}`,
      `--listen-metrics-urls=http://0.0.0.0:${METRICS.port}`,
      `--advertise-client-urls=http://${self}:${CLIENT.port}`,
      `--initial-advertise-peer-urls=http://${self}:${PEER.port}`,
    ],
    env: [POD_NAME_ENV],
    envFrom: [{ configMapRef: { name: names.config } }, { configMapRef: { name: clusterConfigName(db) } }],
    ports: containerPorts([CLIENT, PEER, METRICS]),
    resources: containerResources(db),
    securityContext: CONTAINER_SECURITY_CONTEXT,
    ...healthProbes(version),
    volumeMounts: [{ name: DATA_VOLUME, mountPath: DATA_MOUNT }],
  };
  const highest = ctx.members === undefined ? (db.spec.replicas ?? 1) - 1 : Math.max(...ctx.members.map(ordinal));

  return {
    credentials,
    objects: [
      config,
      cluster,
      connection,
      headlessService(db, [CLIENT, PEER]),
      clientService(db, names.client, [CLIENT]),
      statefulSet(db, ctx, {
        replicas: highest + 1,
        podManagementPolicy: 'Parallel',
        configHash: configHash(config.data as Record<string, string>),
        uid: UID,
        containers: [etcd],
      }),
      disruptionBudget(db, ctx),
      networkPolicy(db, [CLIENT, PEER], [CLIENT]),
    ],
    initJob: job(db, names.initJob, 'init', UID, [etcdctlContainer(db, { ...ctx, image }, ENABLE_AUTH_SCRIPT)]),
    status: {
      selector: selectorString(db),
      endpoints: { primary: `${host}:${CLIENT.port}` },
      connectionSecret: names.connection,
    },
  };
}

/** The ConfigMap of bootstrap settings. */
export function clusterConfigName(db: Database): string {
  return `${identity(db).name}-cluster`;
}
