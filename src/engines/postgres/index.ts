// PostgreSQL: a primary with streaming replicas (render.ts), backed up by pg_dump or pg_basebackup (agent.ts).
import { officialImage } from '../common.ts';
import { defineEngine } from '../define.ts';
import type { Engine } from '../engine.ts';
import { memberRole } from '../replicated.ts';
import { adapter } from './agent.ts';
import { applicationName, PGDATA_SUBPATH, PORT, POSTGRES_CREDENTIALS, render, REPLICATION_USER, UID } from './render.ts';

export const postgres: Engine = defineEngine({
  name: 'postgres',
  parametersDescription: 'postgresql.conf settings',
  spec: {
    defaultVersion: '17',
    majors: ['13', '14', '15', '16', '17'],
    versionPattern: /^(\d+)(?:\.\d+)?$/,
    versionExamples: '"17" or "17.2"',
    maxReplicas: 9,
    oddReplicas: false,
    parameters: {
      keyPattern: /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/,
      keyDescription: 'a PostgreSQL setting name such as work_mem or pg_stat_statements.max',
      managed: [
        'cluster_name',
        'config_file',
        'data_directory',
        'external_pid_file',
        'hba_file',
        'ident_file',
        'listen_addresses',
        'password_encryption',
        'port',
        'primary_conninfo',
        'unix_socket_directories',
      ],
    },
  },
  defaultPort: PORT.port,
  credentialKeys: Object.values(POSTGRES_CREDENTIALS),
  defaultImage: (version) => officialImage('postgres', version),
  render,
  backup: {
    methods: ['dump', 'basebackup'],
    // A dump loads into the running primary in one transaction; a basebackup is a data directory.
    loadMode: (method) => (method === 'dump' ? 'connection' : 'volumes'),
    // The primary only: a replica whose volume is empty (every replica of a new Database) copies it with
    // pg_basebackup when it starts.
    restoredMembers: () => 1,
    // A replica that kept its data directory would stream from a primary of another system, which fails, while it
    // serves its old data read-only: in place, the replicas' claims go while the database is stopped.
    clearsOtherMembers: (method) => method === 'basebackup',
  },
  agent: {
    uid: UID,
    dataSubPath: PGDATA_SUBPATH,
    // pg_basebackup needs a replication connection, which pg_hba.conf allows only to the replication role; the
    // superuser dumps and loads.
    backup: (db, method) =>
      method === 'basebackup'
        ? { credentialKey: POSTGRES_CREDENTIALS.replication, username: REPLICATION_USER }
        : { credentialKey: POSTGRES_CREDENTIALS.superuser, dbname: applicationName(db) },
    restore: (target) => ({ credentialKey: POSTGRES_CREDENTIALS.superuser, dbname: applicationName(target) }),
    restoreRole: applicationName,
  },
  adapter,
  agentTools: ['psql', 'pg_dump', 'pg_restore', 'pg_basebackup', 'tar'],
  memberRole,
});
