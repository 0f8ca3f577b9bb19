// Redis: ordinal 0 is the primary, every other ordinal starts with `replicaof <database>-0` on the headless Service.
// One password, from the credentials Secret, is both `requirepass` (clients) and `masterauth` (replicas to the
// primary). It goes on the command line through the environment, not into the ConfigMap, which anyone who may read
// ConfigMaps could read. Redis needs no first-time setup, so no init Job.
import type { Database } from '../../api/database.ts';
import {
  childNames,
  configFile,
  configMap,
  connectionSecret,
  CONTAINER_SECURITY_CONTEXT,
  containerPorts,
  containerResources,
  credentialEnv,
  DATA_VOLUME,
  execProbe,
  memoryLimitBytes,
  POD_NAME_ENV,
  probes,
  serviceHost,
  type NamedPort,
} from '../common.ts';
import type { Renderable } from '../define.ts';
import type { DesiredState, EngineContext } from '../engine.ts';
import { primaryHost, primaryWithReplicas, replicatedStatefulSet } from '../replicated.ts';

export const PORT: NamedPort = { name: 'redis', port: 6379 };
/** The redis user of the Debian-based official image. */
export const UID = 999;
const DATA_MOUNT = '/data';
const CONFIG_DIR = '/etc/strongroom';

export const REDIS_CREDENTIALS = { password: 'password' } as const;

/**
 * A redis.conf argument. Plain values are written as they are, so multi-word directives such as `save 900 1 300 10`
 * work; an empty value, or one with a line break or a quote, is written as one double-quoted argument, so `save ""`
 * works and no value can start another directive.
 */
function argument(value: string): string {
  if (value !== '' && !/[\r\n"'\\]/.test(value)) return value;
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n').replaceAll('\r', '\\r')}"`;
}

/**
 * Strongroom's defaults, then `spec.parameters` (a later line wins), then what Strongroom manages. No `bind`: Redis
 * then listens on every interface, and protected mode stays out of the way because a password is always set.
 */
function redisConf(db: Database): string {
  const defaults: [string, string][] = [];
  const memory = memoryLimitBytes(db);
  // Three quarters of the limit for data leaves room for replication buffers and fork copy-on-write, so Redis
  // refuses writes before the kernel kills it.
  if (memory !== undefined) defaults.push(['maxmemory', String(Math.floor(memory * 0.75))]);
  const managed: [string, string][] = [
    ['port', String(PORT.port)],
    ['dir', DATA_MOUNT],
    ['dbfilename', 'dump.rdb'],
    ['daemonize', 'no'],
  ];
  return configFile(db, { defaults, managed }, ([key, value]) => `${key} ${argument(value)}`);
}

/** Every member but ordinal 0 replicates the primary; the password arrives through the environment. */
const START_SCRIPT = `set -eu
set -- ${CONFIG_DIR}/redis.conf --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
if [ "\${POD_NAME##*-}" != 0 ]; then set -- "$@" --replicaof "$PRIMARY_HOST" ${PORT.port}; fi
exec redis-server "$@"
`;

export function render(db: Database, ctx: EngineContext, { image, credentials, passwords }: Renderable): DesiredState {
  const names = childNames(db);
  const config = configMap(db, names.config, { 'redis.conf': redisConf(db) });
  const host = serviceHost(db, names.client, ctx);
  const password = passwords[REDIS_CREDENTIALS.password]!;
  const connection = connectionSecret(db, {
    host,
    port: String(PORT.port),
    username: 'default',
    password,
    uri: `redis://default:${password}@${host}:${PORT.port}/0`,
  });

  // redis-cli takes the password from REDISCLI_AUTH; `ping` answers PONG only once the dataset is loaded.
  const ping = execProbe('sh', '-c', `redis-cli -h 127.0.0.1 -p ${PORT.port} ping | grep -q PONG`);
  const redis = {
    name: 'redis',
    image,
    command: ['sh', '-c', START_SCRIPT],
    env: [
      POD_NAME_ENV,
      { name: 'PRIMARY_HOST', value: primaryHost(db, ctx) },
      credentialEnv(db, 'REDIS_PASSWORD', REDIS_CREDENTIALS.password),
      credentialEnv(db, 'REDISCLI_AUTH', REDIS_CREDENTIALS.password),
    ],
    ports: containerPorts([PORT]),
    resources: containerResources(db),
    securityContext: CONTAINER_SECURITY_CONTEXT,
    ...probes({ startup: ping, readiness: ping, liveness: ping }),
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_MOUNT },
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    ],
  };

  return primaryWithReplicas(db, ctx, {
    port: PORT,
    credentials,
    config,
    connection,
    statefulSet: replicatedStatefulSet(db, ctx, config, {
      uid: UID,
      containers: [redis],
      volumes: [{ name: 'config', configMap: { name: names.config } }],
    }),
  });
}
