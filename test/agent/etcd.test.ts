// The agent against a real etcd member on loopback: etcdctl snapshot save, and a restore that makes a new data
// directory for the stopped member.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { agent, agentOk } from './agent.ts';
import { ETCD_PASSWORD, startEtcd, type Etcd } from './servers.ts';

const work = mkdtempSync(join(tmpdir(), 'strongroom-agent-etcd-'));
const repo = join(work, 'repository');
const env = { STRONGROOM_DB_PASSWORD: ETCD_PASSWORD, STRONGROOM_ENCRYPTION_KEY: 'etcd-backup-key-0123456789abcdefghij' };
let etcd: Etcd;

/** Count and SHA-256 of every key and value, read back through etcdctl. */
async function fingerprint(): Promise<string> {
  const { kvs = [] } = JSON.parse(await etcd.etcdctl('get', '', '--prefix', '--write-out=json')) as { kvs?: { key: string; value: string }[] };
  const hash = createHash('sha256');
  for (const kv of kvs.sort((a, b) => a.key.localeCompare(b.key))) hash.update(`${kv.key}=${kv.value};`);
  return `${kvs.length} ${hash.digest('hex')}`;
}

const where = (backup: string) => ['--repository', `fs:${repo}`, '--namespace', 'infra', '--database', 'config', '--backup', backup];
const member = () => [
  '--data-dir', etcd.dataDir,
  '--etcd-name', etcd.name,
  '--etcd-initial-cluster', `${etcd.name}=${etcd.peerUrl}`,
  '--etcd-initial-advertise-peer-urls', etcd.peerUrl,
  '--etcd-initial-cluster-token', etcd.clusterToken,
];

before(async () => {
  etcd = await startEtcd(join(work, 'etcd'));
  const puts: Promise<string>[] = [];
  for (let i = 0; i < 200; i++) puts.push(etcd.etcdctl('put', `/registry/item/${String(i).padStart(4, '0')}`, `value-${i}-${'v'.repeat(i)}`));
  await Promise.all(puts);
  await etcd.enableAuth();
});

after(async () => {
  await etcd?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('snapshot, wipe, restore a new data directory: keys and values identical, authentication kept', async () => {
  const before = await fingerprint();
  assert.match(before, /^20\d /); // 200 items and the auth records are not keys
  const result = await agentOk(['backup', '--engine', 'etcd', '--host', '127.0.0.1', '--port', String(etcd.port), ...where('snap')], env);
  assert.equal(result.method, 'snapshot');
  assert.equal(result.encryption.algorithm, 'strongroom-aead-v1');
  assert.match(result.location, /archive\.db\.zst\.enc$/);

  await etcd.etcdctl('del', '/registry/', '--prefix');
  await etcd.etcdctl('put', '/registry/after-backup', 'gone after the restore');
  await etcd.stop();
  writeFileSync(join(etcd.dataDir, 'marker-of-the-old-directory'), '');
  await agentOk(['restore', ...where('snap'), ...member(), '--scratch-dir', work, '--sha256', result.sha256], env);
  assert.ok(!readdirSync(etcd.dataDir).includes('marker-of-the-old-directory'), 'the data directory was replaced');
  assert.deepEqual(readdirSync(dirname(etcd.dataDir)).sort(), ['data'], 'no restoring/replaced siblings left');
  await etcd.start();
  assert.equal(await fingerprint(), before);
});

test('a corrupted snapshot archive is refused and the data directory is kept', async () => {
  await agentOk(['backup', '--engine', 'etcd', '--host', '127.0.0.1', '--port', String(etcd.port), ...where('corrupt'), '--compression', 'none'], env);
  const file = join(repo, 'infra', 'config', 'corrupt', 'archive.db.enc');
  const bytes = readFileSync(file);
  bytes[100]! ^= 0x10;
  writeFileSync(file, bytes);
  const before = await fingerprint();
  await etcd.stop();
  const run = await agent(['restore', ...where('corrupt'), ...member(), '--scratch-dir', work], env);
  assert.equal(run.code, 1);
  assert.match(run.result.error, /archive digest mismatch/);
  await etcd.start();
  assert.equal(await fingerprint(), before);
});
