// PostgreSQL: ordinal 0 is the primary, every other ordinal a streaming replica of it.
//
// First start of the primary: the official image's entrypoint runs initdb on the empty volume, creates the
// application database (POSTGRES_DB) and runs /docker-entrypoint-initdb.d, where our script creates the replication
// role and the application role and hands it the database. That all happens once, on an empty data directory, before
// the server listens, so PostgreSQL needs no init Job.
// First start of a replica: an init container copies the primary with pg_basebackup and marks the copy a standby;
// primary_conninfo in the shared postgresql.conf (ignored by the primary, which has no standby.signal) makes it stream.
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
    ['unix_socket_directories', '/var/run/postgresql'],
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

/** Run by the entrypoint once, after initdb and before the server listens (psql reaches it on the socket). */
const INITDB_SCRIPT = `#!/bin/bash
set -euo pipefail
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \\
  --set replication_password="$REPLICATION_PASSWORD" --set app_user="$APP_USER" \\
  --set app_password="$APP_PASSWORD" --set app_db="$POSTGRES_DB" <<'SQL'
CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD :'replication_password';
CREATE ROLE :"app_user" WITH LOGIN PASSWORD :'app_password';
ALTER DATABASE :"app_db" OWNER TO :"app_user";
SQL
`;

/**
 * Every start: write the passfile. First start of a replica: copy the primary into a scratch directory and move it
 * into place only when complete, so an interrupted copy is never started as a database.
 */
const BOOTSTRAP_SCRIPT = `set -euo pipefail
(umask 077 && printf '*:*:*:${REPLICATION_USER}:%s\\n' "$REPLICATION_PASSWORD" > "$PGPASSFILE")
if [ -s "$PGDATA/PG_VERSION" ]; then exit 0; fi
if [ "\${POD_NAME##*-}" = 0 ]; then exit 0; fi
until pg_isready --quiet --host="$PRIMARY_HOST" --port=${PORT.port}; do sleep 2; done
rm -rf "$PGDATA" "$PGDATA.partial"
pg_basebackup --host="$PRIMARY_HOST" --port=${PORT.port} --username=${REPLICATION_USER} --no-password \\
  --pgdata="$PGDATA.partial" --wal-method=stream --checkpoint=fast
touch "$PGDATA.partial/standby.signal"
mv "$PGDATA.partial" "$PGDATA"
`;

export function render(db: Database, ctx: EngineContext, { image, credentials, passwords }: Renderable): DesiredState {
  const names = childNames(db);
  const config = configMap(db, names.config, {
    'postgresql.conf': postgresqlConf(db, ctx),
    'pg_hba.conf': PG_HBA_CONF,
    'initdb.sh': INITDB_SCRIPT,
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
  const dataMount = { name: DATA_VOLUME, mountPath: DATA_MOUNT };
  const bootstrap = {
    name: 'bootstrap',
    ...common,
    command: ['bash', '-c', BOOTSTRAP_SCRIPT],
    env: [
      POD_NAME_ENV,
      ...paths,
      { name: 'PRIMARY_HOST', value: primaryHost(db, ctx) },
      credentialEnv(db, 'REPLICATION_PASSWORD', POSTGRES_CREDENTIALS.replication),
    ],
    volumeMounts: [dataMount],
  };
  const isReady = execProbe('pg_isready', '--quiet', '--host=127.0.0.1', `--port=${PORT.port}`);
  const postgres = {
    name: 'postgres',
    ...common,
    args: [
      'postgres',
      '-c',
      `config_file=${CONFIG_DIR}/postgresql.conf`,
      '-c',
      `hba_file=${CONFIG_DIR}/pg_hba.conf`,
      // Replicas report under their pod name in pg_stat_replication (the WAL receiver's application_name).
      '-c',
      'cluster_name=$(POD_NAME)',
    ],
    env: [
      POD_NAME_ENV,
      ...paths,
      { name: 'POSTGRES_USER', value: SUPERUSER },
      { name: 'POSTGRES_DB', value: application },
      // initdb stores the superuser password as SCRAM also on PostgreSQL 13, whose default is md5.
      { name: 'POSTGRES_INITDB_ARGS', value: '--auth-host=scram-sha-256 --auth-local=peer' },
      credentialEnv(db, 'POSTGRES_PASSWORD', POSTGRES_CREDENTIALS.superuser),
      credentialEnv(db, 'REPLICATION_PASSWORD', POSTGRES_CREDENTIALS.replication),
      { name: 'APP_USER', value: application },
      credentialEnv(db, 'APP_PASSWORD', POSTGRES_CREDENTIALS.application),
    ],
    ports: containerPorts([PORT]),
    ...probes({ startup: isReady, readiness: isReady, liveness: isReady }),
    // Kubernetes stops with SIGTERM, which PostgreSQL takes as a "smart" shutdown that waits for every client to
    // leave; a fast shutdown ends within the grace period instead of being killed into crash recovery.
    lifecycle: { preStop: { exec: { command: ['pg_ctl', 'stop', `--pgdata=${PGDATA}`, '--mode=fast', '--wait'] } } },
    volumeMounts: [
      dataMount,
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'initdb', mountPath: '/docker-entrypoint-initdb.d', readOnly: true },
    ],
  };
  const volumes = [
    {
      name: 'config',
      configMap: { name: names.config, items: [{ key: 'pg_hba.conf', path: 'pg_hba.conf' }, { key: 'postgresql.conf', path: 'postgresql.conf' }] },
    },
    { name: 'initdb', configMap: { name: names.config, defaultMode: 0o555, items: [{ key: 'initdb.sh', path: 'initdb.sh' }] } },
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
