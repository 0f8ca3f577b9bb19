// `strongroom agent`: the program backup and restore Jobs run. This header is the contract the controller builds Job
// specs from.
//
// COMMANDS
//   strongroom agent backup  --engine E --host H --port P [--username U] [--dbname D] [--method M]
//                            --repository R --namespace NS --database DB --backup NAME
//                            [--database-uid UID] [--backup-uid UID] [--compression zstd|gzip|none]
//                            [--encryption-key-file F] [--scratch-dir DIR] [--report-to in-cluster|URL]
//                            [--report-token-file F] [--report-ca-file F] [--termination-message-path F]
//   strongroom agent restore [--engine E] --repository R --namespace NS --database DB --backup NAME [--sha256 HEX]
//                            (postgres dump)       --host H --port P [--username U] --dbname D [--role ROLE]
//                            (postgres basebackup) --data-dir DIR
//                            (redis)               --data-dir DIR
//                            (etcd)                --data-dir DIR --etcd-name N --etcd-initial-cluster C
//                                                  --etcd-initial-advertise-peer-urls U [--etcd-initial-cluster-token T]
//                            [--encryption-key-file F] [--scratch-dir DIR] [--termination-message-path F]
//   strongroom agent list    --repository R [--namespace NS [--database DB]]
//   strongroom agent delete  --repository R --namespace NS --database DB --backup NAME
//   strongroom agent tools   Prints {"tools": {<engine>: [...]}}; exit status 1 when one is not on PATH (the image
//                            build runs it, so an image without an engine's tools is not built).
//
// FLAGS
//   --engine          postgres | redis | etcd. Required for backup; for restore it is checked against the manifest.
//   --method          postgres: dump (default) | basebackup; redis: rdb; etcd: snapshot. Restore takes the manifest's.
//   --host, --port    The database to read (backup) or restore into (postgres dump): the client Service, or for
//                     etcd one member's client URL host and port.
//   --username        postgres: default postgres (the superuser); redis: default user when absent (AUTH <password>);
//                     etcd: default root when a password is set.
//   --dbname          postgres: the database to dump / restore into (the application database).
//   --role            postgres dump restore: objects are owned by this role and the dump's owners and grants are
//                     dropped (restoring into a new Database, whose application role has another name).
//   --data-dir        The stopped member's data directory (its volume mounted into the Job): PGDATA for a
//                     basebackup, Redis's `dir`, etcd's --data-dir. It is replaced whole (etcd, postgres) or gets a new
//                     dump.rdb with the append-only files removed (redis).
//   --etcd-*          The restored member's --name, --initial-cluster, --initial-advertise-peer-urls and
//                     --initial-cluster-token (pass the member's ETCD_INITIAL_CLUSTER_TOKEN, which the engine sets to
//                     the Database's uid; etcd's own default `etcd-cluster` when absent). One restore per member.
//   --repository      fs:/PATH            a directory (the backup PVC's mount path)
//                     s3://BUCKET[/PREFIX] an S3-compatible bucket; with --s3-endpoint URL (AWS when absent),
//                                          --s3-region (default us-east-1), --s3-force-path-style
//   --claim-name      fs repositories: the PVC's name, so locations read pvc://<claim>/<key> (file://… without it).
//   --namespace, --database, --backup
//                     The Backup's namespace, its Database's name and its own name: they place the archive at
//                     <repository>/<namespace>/<database>/<backup>/{archive.<format>[.zst|.gz][.enc], manifest.json}.
//   --database-uid, --backup-uid
//                     Recorded in the manifest. With --backup-uid a retried Job whose previous attempt completed
//                     reports that backup again instead of failing on the existing name.
//   --compression     zstd (default) | gzip | none.
//   --encryption-key-file
//                     A file holding the key (a Secret key mounted as a file), at least 32 bytes, used as is.
//   --sha256          restore: the digest recorded in the Backup's status; must equal the manifest's.
//   --scratch-dir     Local space (default: the system temp dir; an emptyDir in a Job). Backups of etcd save the
//                     snapshot there before streaming it. Restores from S3 download the archive there (its stored
//                     size) and verify its digest before applying anything; restores from fs: verify the archive in
//                     place. etcd restores also decode the snapshot there; Redis stages dump.rdb in --data-dir.
//   --report-to       backup only: where to report the Backup's status, `in-cluster` (KUBERNETES_SERVICE_HOST and
//                     _PORT) or an https:// URL of the API server. The agent merge-patches
//                     /apis/strongroom.dev/v1alpha1/namespaces/NS/backups/BACKUP/status: phase Running with startTime
//                     and progress {bytesDone, bytesTotal} (at most every 2 s) while it works, then phase Completed
//                     with completionTime, engine, engineVersion, sizeBytes, sha256, location — or phase Failed with
//                     failureReason. The Job's service account needs `patch` on backups/status. A Job killed before
//                     it can report stays Running: the controller marks it Failed from the Job's status.
//   --report-token-file, --report-ca-file
//                     Default: the pod's service account token and CA under /var/run/secrets/kubernetes.io/serviceaccount.
//   --termination-message-path
//                     Also write the final JSON line there (set it to the container's terminationMessagePath, e.g.
//                     /dev/termination-log), so the controller can read the result from the Pod's status.
//
// ENVIRONMENT (secrets only; fill them from Secrets with valueFrom.secretKeyRef / envFrom)
//   STRONGROOM_DB_PASSWORD   The password of --username: postgres superuser-password, redis password, etcd root
//                            password (the keys of the Database's credentials Secret).
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional)
//                            s3 repositories: envFrom the repository's credentialsSecret.
//   STRONGROOM_ENCRYPTION_KEY  The key itself, instead of --encryption-key-file.
//   STRONGROOM_REPORT_TOKEN    A bearer token for --report-to, instead of --report-token-file.
// No secret is accepted on the command line, and none is passed on to a tool's command line or printed.
//
// OUTPUT AND EXIT STATUS
//   The last line on standard output is one JSON object: on success, for backup
//   {"sizeBytes","sha256","location","manifest","engine","engineVersion","method","compression","encryption"?,
//   "sourceBytes"}; for restore {"restored":true,"backup","engine","engineVersion","method","sizeBytes","sha256"};
//   list prints one manifest per line; delete prints {"deleted":"NS/DB/NAME"}. On failure it is {"error":"<reason>"}
//   and the exit status is 1 (2 for a bad command line); the reason also goes to standard error. SIGTERM (the Job's
//   deadline or deletion) stops the tool, removes the partial archive or aborts the multipart upload, and exits 1.
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Connection, RestoreTarget } from '../engines/adapter.ts';
import { ENGINE_NAMES, engineFor, isEngine, type EngineName as Engine } from '../engines/registry.ts';
import { runBackup } from './backup.ts';
import { deleteBackup, listBackups } from './catalog.ts';
import { isCompression } from './compression.ts';
import { encryptionKey, type EncryptionKey } from './encryption.ts';
import type { BackupId } from './manifest.ts';
import { inClusterServer, KubernetesStatusReporter, readCa, SERVICE_ACCOUNT_DIR, type StatusReporter } from './reporter.ts';
import { runRestore } from './restore.ts';
import { onPath } from './tool.ts';
import { FilesystemRepository } from './repository/filesystem.ts';
import type { Repository } from './repository/repository.ts';

export const AGENT_USAGE = `Usage:
  strongroom agent backup  --engine postgres|redis|etcd --host H --port P [--username U] [--dbname D] [--method M]
                           --repository fs:/PATH|s3://BUCKET[/PREFIX] --namespace NS --database DB --backup NAME
                           [--compression zstd|gzip|none] [--encryption-key-file F] [--report-to in-cluster|URL] ...
  strongroom agent restore --repository R --namespace NS --database DB --backup NAME [--sha256 HEX]
                           (--host H --port P --dbname D [--role R] | --data-dir DIR [--etcd-name N ...]) ...
  strongroom agent list    --repository R [--namespace NS [--database DB]]
  strongroom agent delete  --repository R --namespace NS --database DB --backup NAME
  strongroom agent tools   (checks that every engine's client tools are on PATH)
Secrets come from the environment: STRONGROOM_DB_PASSWORD, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
STRONGROOM_ENCRYPTION_KEY, STRONGROOM_REPORT_TOKEN. See src/agent/command.ts for the whole contract.`;

const OPTIONS = {
  engine: { type: 'string' },
  method: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  username: { type: 'string' },
  dbname: { type: 'string' },
  role: { type: 'string' },
  'data-dir': { type: 'string' },
  'etcd-name': { type: 'string' },
  'etcd-initial-cluster': { type: 'string' },
  'etcd-initial-advertise-peer-urls': { type: 'string' },
  'etcd-initial-cluster-token': { type: 'string' },
  repository: { type: 'string' },
  'claim-name': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
  's3-force-path-style': { type: 'boolean' },
  namespace: { type: 'string' },
  database: { type: 'string' },
  backup: { type: 'string' },
  'database-uid': { type: 'string' },
  'backup-uid': { type: 'string' },
  compression: { type: 'string' },
  'encryption-key-file': { type: 'string' },
  sha256: { type: 'string' },
  'scratch-dir': { type: 'string' },
  'report-to': { type: 'string' },
  'report-token-file': { type: 'string' },
  'report-ca-file': { type: 'string' },
  'termination-message-path': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];

/** A command line the agent cannot act on: exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

function need(values: Values, flag: keyof Values): string {
  const value = values[flag];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

function engineOf(values: Values, required: boolean): Engine | undefined {
  const engine = values.engine;
  if (engine === undefined && !required) return undefined;
  if (!isEngine(engine)) throw new UsageError(`--engine: ${ENGINE_NAMES.join(', ')}, not ${engine ?? 'nothing'}`);
  return engine;
}

function portOf(values: Values): number {
  const port = Number(need(values, 'port'));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port: not a port: ${values.port}`);
  return port;
}

function connectionOf(values: Values, env: NodeJS.ProcessEnv): Connection {
  return {
    host: need(values, 'host'),
    port: portOf(values),
    username: values.username,
    password: env['STRONGROOM_DB_PASSWORD'] || undefined,
    dbname: values.dbname,
  };
}

function idOf(values: Values): BackupId {
  return { namespace: need(values, 'namespace'), database: need(values, 'database'), backup: need(values, 'backup') };
}

/** `fs:/path` or `s3://bucket[/prefix]`, with the S3 credentials from the environment. */
export async function openRepository(values: Values, env: NodeJS.ProcessEnv): Promise<Repository> {
  const spec = need(values, 'repository');
  if (spec.startsWith('fs:')) {
    const root = spec.slice('fs:'.length);
    if (!root.startsWith('/')) throw new UsageError(`--repository fs: needs an absolute path, not ${root}`);
    return new FilesystemRepository({ root: root.replace(/\/+$/, '') || '/', claimName: values['claim-name'] });
  }
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (s3) {
    const accessKeyId = env['AWS_ACCESS_KEY_ID'];
    const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
    if (!accessKeyId || !secretAccessKey) throw new UsageError('an s3 repository needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
    // Loaded only for S3: the AWS SDK is most of the agent's start-up time.
    const { S3Repository } = await import('./repository/s3.ts');
    return new S3Repository({
      bucket: s3[1]!,
      prefix: s3[2]!,
      endpoint: values['s3-endpoint'],
      region: values['s3-region'] ?? 'us-east-1',
      forcePathStyle: values['s3-force-path-style'] ?? false,
      credentials: { accessKeyId, secretAccessKey, ...(env['AWS_SESSION_TOKEN'] ? { sessionToken: env['AWS_SESSION_TOKEN'] } : {}) },
    });
  }
  throw new UsageError(`--repository: fs:/PATH or s3://BUCKET[/PREFIX], not ${spec}`);
}

function keyOf(values: Values, env: NodeJS.ProcessEnv): EncryptionKey | undefined {
  const file = values['encryption-key-file'];
  if (file) return encryptionKey(readFileSync(file));
  const inline = env['STRONGROOM_ENCRYPTION_KEY'];
  return inline ? encryptionKey(Buffer.from(inline)) : undefined;
}

function reporterOf(values: Values, env: NodeJS.ProcessEnv, id: BackupId): StatusReporter | undefined {
  const to = values['report-to'];
  if (!to) return undefined;
  const server = to === 'in-cluster' ? inClusterServer(env) : to;
  if (!/^https?:\/\//.test(server)) throw new UsageError(`--report-to: in-cluster or an https:// URL, not ${to}`);
  const token = env['STRONGROOM_REPORT_TOKEN'] || readFileSync(values['report-token-file'] ?? join(SERVICE_ACCOUNT_DIR, 'token'), 'utf8').trim();
  const caFile = values['report-ca-file'] ?? (to === 'in-cluster' ? join(SERVICE_ACCOUNT_DIR, 'ca.crt') : undefined);
  return new KubernetesStatusReporter({ server, token, ca: readCa(caFile), namespace: id.namespace, backup: id.backup });
}

function restoreTargetOf(values: Values, env: NodeJS.ProcessEnv): RestoreTarget {
  const target: RestoreTarget = {};
  if (values.host !== undefined) target.connection = connectionOf(values, env);
  if (values.role !== undefined) target.role = values.role;
  if (values['data-dir'] !== undefined) target.dataDir = values['data-dir'];
  if (values['etcd-name'] !== undefined) {
    target.etcdMember = {
      name: values['etcd-name'],
      initialCluster: need(values, 'etcd-initial-cluster'),
      initialAdvertisePeerUrls: need(values, 'etcd-initial-advertise-peer-urls'),
      initialClusterToken: values['etcd-initial-cluster-token'] ?? 'etcd-cluster',
    };
  }
  return target;
}

export interface AgentIO {
  env: NodeJS.ProcessEnv;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  signal: AbortSignal;
}

/** Every registered engine's client tools, found on PATH or not. */
async function checkTools(): Promise<unknown[]> {
  const tools: Record<string, string[]> = {};
  const missing: string[] = [];
  for (const name of ENGINE_NAMES) {
    tools[name] = [...engineFor(name).agentTools];
    for (const tool of tools[name]) if (!(await onPath(tool))) missing.push(`${tool} (${name})`);
  }
  if (missing.length > 0) throw new Error(`not on PATH: ${missing.join(', ')}`);
  return [{ tools }];
}

async function run(command: string, values: Values, io: AgentIO): Promise<unknown[]> {
  if (command === 'tools') return checkTools();
  const { env, signal } = io;
  const repository = await openRepository(values, env);
  const scratchDir = values['scratch-dir'] ?? tmpdir();
  const warn = (message: string) => io.stderr(`strongroom agent ${command}: warning: ${message}`);
  switch (command) {
    case 'backup': {
      const engine = engineOf(values, true)!;
      const compression = values.compression ?? 'zstd';
      if (!isCompression(compression)) throw new UsageError(`--compression: zstd, gzip or none, not ${compression}`);
      const method = values.method ?? engineFor(engine).backup.methods[0];
      const id = idOf(values);
      return [
        await runBackup({
          engine,
          method,
          connection: connectionOf(values, env),
          repository,
          id,
          databaseUID: values['database-uid'],
          backupUID: values['backup-uid'],
          compression,
          encryptionKey: keyOf(values, env),
          scratchDir,
          reporter: reporterOf(values, env, id),
          warn,
          signal,
        }),
      ];
    }
    case 'restore': {
      const result = await runRestore({
        engine: engineOf(values, false),
        repository,
        id: idOf(values),
        sha256: values.sha256,
        target: restoreTargetOf(values, env),
        encryptionKey: keyOf(values, env),
        scratchDir,
        signal,
      });
      return [{ restored: true, ...result }];
    }
    case 'list':
      return listBackups(repository, { namespace: values.namespace, database: values.database });
    case 'delete': {
      const id = idOf(values);
      await deleteBackup(repository, id);
      return [{ deleted: `${id.namespace}/${id.database}/${id.backup}` }];
    }
    default:
      throw new UsageError(`unknown agent command ${command}`);
  }
}

/** Runs one agent command; answers the exit status. */
export async function agentMain(argv: string[], io: AgentIO): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    io.stderr(AGENT_USAGE);
    return command === undefined ? 2 : 0;
  }
  let terminationPath: string | undefined;
  const finish = (line: string) => {
    io.stdout(line);
    // The kubelet keeps at most 4096 bytes of a termination message.
    if (terminationPath) writeFileSync(terminationPath, line.slice(0, 4096));
  };
  try {
    const { values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
    terminationPath = values['termination-message-path'];
    const lines = await run(command, values, io);
    for (const [i, line] of lines.entries()) (i === lines.length - 1 ? finish : io.stdout)(JSON.stringify(line));
    return 0;
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const reason = io.signal.aborted ? `interrupted (${String(io.signal.reason)})` : (error as Error).message;
    io.stderr(`strongroom agent ${command}: ${reason}`);
    finish(JSON.stringify({ error: reason }));
    return usage ? 2 : 1;
  }
}
