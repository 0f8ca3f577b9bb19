// PostgreSQL: ordinal 0 is the primary, every other ordinal a streaming replica of it.
//
// No image entrypoint is relied on: the init container `bootstrap` and the server state their own commands and call
// initdb, pg_ctl, psql, pg_basebackup and postgres by name through the image's PATH, as the engine's user (999, the
// postgres user of the official image, which initdb needs to exist in the image).
//
// First start of the primary: `bootstrap` runs initdb into a scratch directory, starts it on a socket only, creates
// the replication role, the application role and its database, stops it and moves it into place. That all happens
// once, on an empty data directory, before the server listens, so PostgreSQL needs no init Job.
// First start of a replica: `bootstrap` copies the primary with pg_basebackup and marks the copy a standby;
// primary_conninfo in the shared postgresql.conf (ignored by the primary, which has no standby.signal) makes it stream.
// Either way an interrupted first start leaves only the scratch directory, which the next start removes.
// Pods start in order (OrderedReady), so the primary is Ready before the first replica copies it.
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
  identity,
  memoryLimitBytes,
  POD_NAME_ENV,
  probes,
  serviceHost,
  type NamedPort,
} from '../common.ts';
import type { Renderable } from '../define.ts';
import type { DesiredState, EngineContext } from '../engine.ts';
import { primaryHost, primaryWithReplicas, replicatedStatefulSet } from '../replicated.ts';

export const PORT: NamedPort = { name: 'postgres', port: 5432 };
/** The postgres user of the Debian-based official image. */
export const UID = 999;
const DATA_MOUNT = '/var/lib/postgresql/data';
/** A directory below the mount: initdb wants an empty directory it owns, and a volume's root may hold lost+found. */
export const PGDATA_SUBPATH = 'pgdata';
const PGDATA = `${DATA_MOUNT}/${PGDATA_SUBPATH}`;
/** The replication password for pg_basebackup and the WAL receiver; libpq reads it only from a file of mode 0600. */
const PGPASSFILE = `${DATA_MOUNT}/.pgpass`;
const CONFIG_DIR = '/etc/strongroom';
/** The server's socket directory: an emptyDir, so it exists and is writable whatever the image holds. */
const SOCKET_DIR = '/var/run/postgresql';
const SUPERUSER = 'postgres';
/** The role replicas copy and stream from the primary with; pg_hba.conf allows replication connections only to it. */
export const REPLICATION_USER = 'replicator';

export const POSTGRES_CREDENTIALS = {
  superuser: 'superuser-password',
  replication: 'replication-password',
  /** The application role's, which the connection Secret carries. */
  application: 'password',
} as const;

/** The application role and database: the Database name with `_` for `-`, so it needs no quoting in SQL. */
export function applicationName(db: Database): string {
  return identity(db).name.replaceAll('-', '_');
}

/** A postgresql.conf string literal: quotes doubled, backslashes and line breaks escaped. */
function quote(value: string): string {
  const escaped = value.replaceAll('\\', '\\\\').replaceAll("'", "''").replaceAll('\n', '\\n').replaceAll('\r', '\\r');
  return `'${escaped}'`;
}

/** Strongroom's defaults first, then `spec.parameters` (a later line wins), then what Strongroom manages. */
function postgresqlConf(db: Database, ctx: EngineContext): string {
  const defaults: [string, string][] = [];
  const memory = memoryLimitBytes(db);
  // A quarter of the memory limit, the usual starting point; the rest is left to work_mem and the page cache.
  if (memory !== undefined) defaults.push(['shared_buffers', `${Math.max(1, Math.floor(memory / 4 / 2 ** 20))}MB`]);
  const primary = primaryHost(db, ctx);
  const managed: [string, string][] = [
    ['listen_addresses', '*'],
    ['port', String(PORT.port)],
    ['unix_socket_directories', SOCKET_DIR],
    ['password_encryption', 'scram-sha-256'],
    ['primary_conninfo', `host=${primary} port=${PORT.port} user=${REPLICATION_USER} passfile=${PGPASSFILE}`],
  ];
  return configFile(db, { defaults, managed }, ([key, value]) => `${key} = ${quote(value)}`);
}

const PG_HBA_CONF = [
  '# TYPE  DATABASE     USER        ADDRESS  METHOD',
  'local   all          all                  peer',
  `host    replication  ${REPLICATION_USER}  all      scram-sha-256`,
  'host    all          all         all      scram-sha-256',
  '',
].join('\n');

/**
 * Every start: write the passfile. First start: build the data directory in a scratch directory beside it and move it
 * into place only when complete, so an interrupted start is never run as a database. The primary's scratch server
 * listens on its socket only, with the trust authentication initdb writes into the scratch directory for local
 * connections: the server that serves later reads Strongroom's pg_hba.conf instead. Passwords come from the
 * environment and reach psql as variables, never on a command line.
 */
const BOOTSTRAP_SCRIPT = `set -eu
(umask 077 && printf '*:*:*:${REPLICATION_USER}:%s\\n' "$REPLICATION_PASSWORD" > "$PGPASSFILE")
if [ -s "$PGDATA/PG_VERSION" ]; then exit 0; fi
scratch="$PGDATA.partial"
rm -rf "$PGDATA" "$scratch" "$PGDATA.pwfile"
if [ "\${POD_NAME##*-}" = 0 ]; then
  (umask 077 && printf '%s\\n' "$SUPERUSER_PASSWORD" > "$PGDATA.pwfile")
  # SCRAM for host connections also sets password_encryption, so PostgreSQL 13 (md5 by default) stores SCRAM too.
  initdb --pgdata="$scratch" --username=${SUPERUSER} --pwfile="$PGDATA.pwfile" --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8
  rm -f "$PGDATA.pwfile"
  pg_ctl start --pgdata="$scratch" --wait --silent --options="-c listen_addresses='' -c unix_socket_directories=$SOCKET_DIR"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --host="$SOCKET_DIR" --username=${SUPERUSER} --dbname=postgres \\
    --set replication_password="$REPLICATION_PASSWORD" --set app_user="$APP_USER" \\
    --set app_password="$APP_PASSWORD" --set app_db="$APP_DB" <<'SQL'
CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD :'replication_password';
CREATE ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
SQL
  pg_ctl stop --pgdata="$scratch" --mode=fast --wait --silent
else
  until pg_isready --quiet --host="$PRIMARY_HOST" --port=${PORT.port}; do sleep 2; done
  pg_basebackup --host="$PRIMARY_HOST" --port=${PORT.port} --username=${REPLICATION_USER} --no-password \\
    --pgdata="$scratch" --wal-method=stream --checkpoint=fast
  touch "$scratch/standby.signal"
fi
mv "$scratch" "$PGDATA"
`;

export function render(db: Database, ctx: EngineContext, { image, credentials, passwords }: Renderable): DesiredState {
  const names = childNames(db);
  const config = configMap(db, names.config, {
    'postgresql.conf': postgresqlConf(db, ctx),
    'pg_hba.conf': PG_HBA_CONF,
  });
  const host = serviceHost(db, names.client, ctx);
  const application = applicationName(db);
  const password = passwords[POSTGRES_CREDENTIALS.application]!;
  const connection = connectionSecret(db, {
    host,
    port: String(PORT.port),
    username: application,
    password,
    database: application,
    uri: `postgresql://${application}:${password}@${host}:${PORT.port}/${application}`,
  });

  const common = {
    image,
    resources: containerResources(db),
    securityContext: CONTAINER_SECURITY_CONTEXT,
  };
  const paths = [
    { name: 'PGDATA', value: PGDATA },
    { name: 'PGPASSFILE', value: PGPASSFILE },
  ];
  const mounts = [
    { name: DATA_VOLUME, mountPath: DATA_MOUNT },
    { name: 'run', mountPath: SOCKET_DIR },
  ];
  const bootstrap = {
    name: 'bootstrap',
    ...common,
    command: ['sh', '-c', BOOTSTRAP_SCRIPT],
    env: [
      POD_NAME_ENV,
      ...paths,
      { name: 'PRIMARY_HOST', value: primaryHost(db, ctx) },
      { name: 'SOCKET_DIR', value: SOCKET_DIR },
      { name: 'APP_USER', value: application },
      { name: 'APP_DB', value: application },
      credentialEnv(db, 'SUPERUSER_PASSWORD', POSTGRES_CREDENTIALS.superuser),
      credentialEnv(db, 'REPLICATION_PASSWORD', POSTGRES_CREDENTIALS.replication),
      credentialEnv(db, 'APP_PASSWORD', POSTGRES_CREDENTIALS.application),
    ],
    volumeMounts: mounts,
  };
  const isReady = execProbe('pg_isready', '--quiet', '--host=127.0.0.1', `--port=${PORT.port}`);
  const postgres = {
    name: 'postgres',
    ...common,
    // The data directory comes from PGDATA.
    command: [
      'postgres',
      '-c',
      `config_file=${CONFIG_DIR}/postgresql.conf`,
      '-c',
      `hba_file=${CONFIG_DIR}/pg_hba.conf`,
      // Replicas report under their pod name in pg_stat_replication (the WAL receiver's application_name).
      '-c',
      'cluster_name=$(POD_NAME)',
    ],
    env: [POD_NAME_ENV, ...paths],
    ports: containerPorts([PORT]),
    ...probes({ startup: isReady, readiness: isReady, liveness: isReady }),
    // Kubernetes stops with SIGTERM, which PostgreSQL takes as a "smart" shutdown that waits for every client to
    // leave; a fast shutdown ends within the grace period instead of being killed into crash recovery.
    lifecycle: { preStop: { exec: { command: ['pg_ctl', 'stop', `--pgdata=${PGDATA}`, '--mode=fast', '--wait'] } } },
    volumeMounts: [...mounts, { name: 'config', mountPath: CONFIG_DIR, readOnly: true }],
  };
  const volumes = [
    {
      name: 'config',
      configMap: { name: names.config, items: [{ key: 'pg_hba.conf', path: 'pg_hba.conf' }, { key: 'postgresql.conf', path: 'postgresql.conf' }] },
    },
    { name: 'run', emptyDir: {} },
  ];

  return primaryWithReplicas(db, ctx, {
    port: PORT,
    credentials,
    config,
    connection,
    statefulSet: replicatedStatefulSet(db, ctx, config, {
      uid: UID,
      initContainers: [bootstrap],
      containers: [postgres],
      volumes,
      terminationGracePeriodSeconds: 60,
    }),
  });
}
