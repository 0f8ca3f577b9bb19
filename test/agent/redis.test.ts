// The agent against a real Redis server on loopback: the RDB arrives over the replication protocol, and a restore
// puts it into the stopped server's data directory.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { agent, agentOk } from './agent.ts';
import { REDIS_PASSWORD, redisFingerprint, run, startRedis, type Redis } from './servers.ts';

const work = mkdtempSync(join(tmpdir(), 'strongroom-agent-redis-'));
const repo = join(work, 'repository');
const env = { STRONGROOM_DB_PASSWORD: REDIS_PASSWORD };
let redis: Redis;

const fingerprint = () => redisFingerprint(redis);

function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

async function load(): Promise<void> {
  const commands: string[] = [];
  for (let i = 0; i < 5000; i++) {
    commands.push(resp('SET', `string:${i}`, `value ${i} ${'x'.repeat(i % 50)}`));
    if (i % 5 === 0) commands.push(resp('HSET', `hash:${i % 400}`, `field${i}`, String(i)));
    if (i % 7 === 0) commands.push(resp('RPUSH', `list:${i % 30}`, `item ${i}`));
    if (i % 11 === 0) commands.push(resp('SADD', `set:${i % 20}`, `member ${i}`));
    if (i % 13 === 0) commands.push(resp('ZADD', `zset:${i % 10}`, String(i / 3), `m${i}`));
  }
  commands.push(resp('SET', 'expiring', 'soon', 'EX', '3600'));
  commands.push(resp('SELECT', '3'), resp('SET', 'in-db-3', 'yes'));
  await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--pipe'], { env: { REDISCLI_AUTH: REDIS_PASSWORD }, input: commands.join('') });
}

const where = (backup: string) => ['--repository', `fs:${repo}`, '--namespace', 'cache', '--database', 'sessions', '--backup', backup];
const connection = () => ['--host', '127.0.0.1', '--port', String(redis.port)];

before(async () => {
  redis = await startRedis(join(work, 'data'));
  await load();
});

after(async () => {
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('back up over the replication protocol, wipe, restore into the stopped server: data identical', async () => {
  const before = await fingerprint();
  assert.match(before, /^\d{4,} [0-9a-f]{40}$/);
  const db3 = await redis.cli('-n', '3', 'GET', 'in-db-3');
  const result = await agentOk(['backup', '--engine', 'redis', ...connection(), ...where('rdb')], env);
  assert.equal(result.method, 'rdb');
  assert.match(result.engineVersion, /^\d+\.\d+\.\d+$/);
  const archive = readFileSync(join(repo, 'cache', 'sessions', 'rdb', 'archive.rdb.zst'));
  assert.equal(archive.length, result.sizeBytes);

  await redis.cli('FLUSHALL');
  await redis.stop();
  // An append-only file would be loaded instead of dump.rdb: the restore must remove it.
  mkdirSync(join(redis.dataDir, 'appendonlydir'), { recursive: true });
  writeFileSync(join(redis.dataDir, 'appendonlydir', 'appendonly.aof.manifest'), 'stale');
  const restored = await agentOk(['restore', '--engine', 'redis', ...where('rdb'), '--data-dir', redis.dataDir, '--sha256', result.sha256]);
  assert.equal(restored.restored, true);
  assert.equal(existsSync(join(redis.dataDir, 'appendonlydir')), false);
  assert.deepEqual(readdirSync(redis.dataDir).filter((f) => f.startsWith('.')), [], 'no staging file left');
  await redis.start();
  assert.equal(await fingerprint(), before);
  assert.equal(await redis.cli('-n', '3', 'GET', 'in-db-3'), db3);
});

test('the RDB in the archive is the server\'s own file, byte for byte', async () => {
  const result = await agentOk(['backup', '--engine', 'redis', ...connection(), ...where('raw'), '--compression', 'none'], env);
  const archive = readFileSync(join(repo, 'cache', 'sessions', 'raw', 'archive.rdb'));
  assert.equal(archive.subarray(0, 5).toString(), 'REDIS');
  assert.equal(result.sourceBytes, archive.length, 'no end-of-transfer marker or replication stream after the snapshot');
});

test('a corrupted archive is refused and the data directory is left as it was', async () => {
  const result = await agentOk(['backup', '--engine', 'redis', ...connection(), ...where('corrupt'), '--compression', 'gzip'], env);
  const file = join(repo, 'cache', 'sessions', 'corrupt', 'archive.rdb.gz');
  const bytes = readFileSync(file);
  bytes[bytes.length - 5]! ^= 0xff;
  writeFileSync(file, bytes);
  const target = join(work, 'untouched');
  mkdirSync(target);
  writeFileSync(join(target, 'dump.rdb'), 'the old snapshot');
  const run = await agent(['restore', ...where('corrupt'), '--data-dir', target, '--sha256', result.sha256]);
  assert.equal(run.code, 1);
  assert.match(run.result.error, /digest mismatch|corrupted/);
  assert.deepEqual(readdirSync(target), ['dump.rdb']);
  assert.equal(readFileSync(join(target, 'dump.rdb'), 'utf8'), 'the old snapshot');
});

test('a wrong password is refused by the server', async () => {
  const run = await agent(['backup', '--engine', 'redis', ...connection(), ...where('badpass')], { STRONGROOM_DB_PASSWORD: 'not-the-password' });
  assert.equal(run.code, 1);
  assert.match(run.result.error, /redis refused the credentials/);
  assert.equal(existsSync(join(repo, 'cache', 'sessions', 'badpass', 'manifest.json')), false);
});
