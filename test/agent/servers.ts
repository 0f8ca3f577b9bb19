// Real servers for the agent's data-path tests, each on loopback in a temporary directory: PostgreSQL, Redis, etcd and
// versitygw (S3). Nothing is installed here: .ci/run installs the Debian packages and `npm run cluster:build` builds
// versitygw into the cache.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ensureS3Server } from '../cluster/build.ts';
import { freePort } from '../cluster/harness.ts';

export interface Server {
  port: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a server process with its output in `log`; `stop` sends SIGTERM and waits for it to exit. */
export function startServer(command: string, args: string[], log: string, options: { uid?: number; gid?: number; env?: Record<string, string> } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], uid: options.uid, gid: options.gid, env: { ...process.env, ...options.env } });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8192));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.on('exit', () => (running.delete(child), resolve())));
  return {
    child,
    output: () => `${log}: ${output}`,
    exitedEarly: () => child.exitCode !== null || child.signalCode !== null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function waitFor(what: string, check: () => Promise<boolean>, failed: () => string | undefined, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const failure = failed();
    if (failure) throw new Error(`${what}: the server exited: ${failure}`);
    try {
      if (await check()) return;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
    await sleep(100);
  }
}

/** Runs a command to its end; answers its standard output, or throws with its standard error. */
export function run(command: string, args: string[], options: { env?: Record<string, string>; input?: Buffer | string; uid?: number; gid?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, uid: options.uid, gid: options.gid });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`))));
    // A command that exits without reading its input must not fail the run with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

/** The newest installed server's bin directory: initdb and postgres are not on PATH on Debian. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)');
  return join(root, newest, 'bin');
}

/** PostgreSQL refuses to run as root: its files and processes belong to the `postgres` system user. */
export function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user (apt-get install postgresql)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export const POSTGRES_PASSWORD = 'pg-Secret-Password-1';

export interface Postgres extends Server {
  dataDir: string;
  psql(sql: string, dbname?: string): Promise<string>;
  start(): Promise<void>;
}

export async function chownToPostgres(path: string): Promise<void> {
  const { uid, gid } = postgresUser();
  await run('chown', ['-R', `${uid}:${gid}`, path]);
}

/** A new cluster (scram-sha-256 for TCP, so the agent's password really is checked), or one over an existing dataDir. */
export async function startPostgres(dir: string, options: { dataDir?: string; settings?: string[] } = {}): Promise<Postgres> {
  const user = postgresUser();
  const bin = postgresBin();
  await mkdir(dir, { recursive: true });
  await chown(dir, user.uid, user.gid);
  // mkdtemp makes the test's directory 0700 for root: the postgres user must be able to pass through it.
  await chmod(dirname(dir), 0o755);
  const dataDir = options.dataDir ?? join(dir, 'data');
  if (!options.dataDir) {
    const pwfile = join(dir, 'pwfile');
    await writeFile(pwfile, POSTGRES_PASSWORD);
    await chown(pwfile, user.uid, user.gid);
    await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync'], user);
  }
  const port = await freePort();
  const env = { PGPASSWORD: POSTGRES_PASSWORD };
  const psql = (sql: string, dbname = 'postgres') =>
    run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', dbname, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env }).then((s) => s.trim());
  let server: ReturnType<typeof startServer> | undefined;
  const start = async () => {
    server = startServer(
      join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', ...(options.settings ?? []).flatMap((s) => ['-c', s])],
      'postgres',
      user,
    );
    const current = server;
    await waitFor('postgres to accept connections', async () => (await psql('SELECT 1')) === '1', () => (current.exitedEarly() ? current.output() : undefined));
  };
  await start();
  return { port, dataDir, psql, start, stop: async () => server?.stop() };
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

export const REDIS_PASSWORD = 'redis-Secret-Password-1';

export interface Redis extends Server {
  dataDir: string;
  cli(...args: string[]): Promise<string>;
  start(): Promise<void>;
}

/**
 * Key count and a digest of every key's type, contents and whether it expires, computed in Redis. Contents rather
 * than DUMP: DUMP carries the in-memory encoding, which loading an RDB may choose differently for the same value.
 */
const REDIS_FINGERPRINT = `
local keys = redis.call('KEYS', '*')
table.sort(keys)
local acc = ''
for _, k in ipairs(keys) do
  local t = redis.call('TYPE', k).ok
  local v
  if t == 'string' then v = {redis.call('GET', k)}
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  end
  if t == 'hash' or t == 'set' then table.sort(v) end
  acc = redis.sha1hex(acc .. k .. t .. table.concat(v, '\\0') .. tostring(redis.call('PTTL', k) > 0))
end
return #keys .. ' ' .. acc`;

export function redisFingerprint(redis: Redis): Promise<string> {
  return redis.cli('EVAL', REDIS_FINGERPRINT, '0');
}

export async function startRedis(dir: string, settings: string[] = []): Promise<Redis> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const env = { REDISCLI_AUTH: REDIS_PASSWORD };
  const cli = (...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { env }).then((s) => s.trim());
  let server: ReturnType<typeof startServer> | undefined;
  const start = async () => {
    // No save points: stopping the server writes nothing, so the data directory holds only what a test puts there.
    server = startServer(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--requirepass', REDIS_PASSWORD, '--save', '', '--daemonize', 'no', ...settings],
      'redis',
    );
    const current = server;
    await waitFor('redis to answer', async () => (await cli('PING')) === 'PONG', () => (current.exitedEarly() ? current.output() : undefined));
  };
  await start();
  return { port, dataDir: dir, cli, start, stop: async () => server?.stop() };
}

// ---------------------------------------------------------------------------------------------------------------
// etcd

export const ETCD_PASSWORD = 'etcd-Secret-Password-1';

export interface Etcd extends Server {
  dataDir: string;
  name: string;
  peerUrl: string;
  clusterToken: string;
  etcdctl(...args: string[]): Promise<string>;
  /** Adds the root user with ETCD_PASSWORD and turns authentication on; etcdctl here authenticates from then on. */
  enableAuth(): Promise<void>;
  start(): Promise<void>;
}

export async function startEtcd(dir: string): Promise<Etcd> {
  await mkdir(dir, { recursive: true });
  const [port, peerPort] = [await freePort(), await freePort()];
  const name = 'member-0';
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const clientUrl = `http://127.0.0.1:${port}`;
  const dataDir = join(dir, 'data');
  const clusterToken = 'strongroom-test';
  let authenticated = false;
  const etcdctl = (...args: string[]) =>
    run('etcdctl', [`--endpoints=${clientUrl}`, ...args], {
      env: { ETCDCTL_API: '3', ...(authenticated ? { ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: ETCD_PASSWORD } : {}) },
    }).then((s) => s.trim());
  let server: ReturnType<typeof startServer> | undefined;
  const start = async () => {
    server = startServer(
      'etcd',
      [
        `--name=${name}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${name}=${peerUrl}`,
        `--initial-cluster-token=${clusterToken}`,
        '--unsafe-no-fsync',
      ],
      'etcd',
    );
    const current = server;
    await waitFor('etcd to answer', async () => (await etcdctl('endpoint', 'health'), true), () => (current.exitedEarly() ? current.output() : undefined));
  };
  await start();
  return {
    port,
    dataDir,
    name,
    peerUrl,
    clusterToken,
    etcdctl,
    start,
    stop: async () => server?.stop(),
    async enableAuth() {
      await etcdctl('user', 'add', `root:${ETCD_PASSWORD}`);
      await etcdctl('role', 'add', 'root').catch(() => '');
      await etcdctl('user', 'grant-role', 'root', 'root');
      await etcdctl('auth', 'enable');
      authenticated = true;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// S3 (versitygw over a directory)

export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'strongroom-test', AWS_SECRET_ACCESS_KEY: 's3-Secret-Key-1' };

export interface S3Server extends Server {
  endpoint: string;
  bucket: string;
  client: S3Client;
}

export async function startS3(dir: string, bucket = 'backups'): Promise<S3Server> {
  const binary = await ensureS3Server();
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = startServer(
    binary,
    ['--port', `127.0.0.1:${port}`, '--access', S3_CREDENTIALS.AWS_ACCESS_KEY_ID, '--secret', S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY, '--quiet', 'posix', dir],
    'versitygw',
  );
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
  });
  await waitFor(
    'versitygw to create the bucket',
    async () => (await client.send(new CreateBucketCommand({ Bucket: bucket })), true),
    () => (server.exitedEarly() ? server.output() : undefined),
  );
  return {
    port,
    endpoint,
    bucket,
    client,
    async stop() {
      client.destroy();
      await server.stop();
    },
  };
}
