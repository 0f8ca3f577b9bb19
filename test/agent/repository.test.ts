// The repository contract on both kinds, the directory and a real S3-compatible server (versitygw on loopback), and
// the agent end to end through S3: a Redis backup stored, listed, restored, refused when corrupted, and an
// interrupted upload that leaves nothing behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { FilesystemRepository } from '../../src/agent/repository/filesystem.ts';
import type { Repository } from '../../src/agent/repository/repository.ts';
import { S3Repository } from '../../src/agent/repository/s3.ts';
import { agent, agentOk, startAgent, statusRecorder } from './agent.ts';
import { REDIS_PASSWORD, redisFingerprint, run, S3_CREDENTIALS, startRedis, startS3, type Redis, type S3Server } from './servers.ts';

const work = mkdtempSync(join(tmpdir(), 'strongroom-agent-s3-'));
let s3: S3Server;

before(async () => {
  s3 = await startS3(join(work, 's3'));
});

after(async () => {
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A stream that gives `size` random bytes, then fails. */
function failingAfter(size: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(size));
      } else this.destroy(new Error('the engine failed'));
    },
  });
}

describe('repository contract', () => {
  const kinds: { name: string; open: () => Repository }[] = [
    { name: 'filesystem', open: () => new FilesystemRepository({ root: join(work, 'fs'), claimName: 'orders-backups' }) },
    {
      name: 's3',
      open: () =>
        new S3Repository({
          bucket: s3.bucket,
          prefix: 'contract',
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
        }),
    },
  ];
  for (const kind of kinds) {
    test(`${kind.name}: put, stat, ranged get, list, delete`, async () => {
      const repo = kind.open();
      // Larger than one S3 part (16 MiB), so the multipart path is the one tested.
      const data = randomBytes(17 * 1024 * 1024 + 3);
      const measured = await repo.put('ns/db/b1/archive.rdb', Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
      assert.equal(measured.size, data.length);
      assert.deepEqual(await repo.stat('ns/db/b1/archive.rdb'), { key: 'ns/db/b1/archive.rdb', size: data.length });
      assert.deepEqual(await buffer(await repo.get('ns/db/b1/archive.rdb')), data);
      assert.deepEqual(await buffer(await repo.get('ns/db/b1/archive.rdb', { start: 10, end: 19 })), data.subarray(10, 20));
      assert.deepEqual(await buffer(await repo.get('ns/db/b1/archive.rdb', { start: data.length - 5 })), data.subarray(-5));
      await repo.put('ns/db/b2/manifest.json', Readable.from([Buffer.from('{}')]));
      await repo.put('ns/other/b3/manifest.json', Readable.from([Buffer.from('{}')]));
      assert.deepEqual(
        (await repo.list('ns/db/')).map((o) => o.key),
        ['ns/db/b1/archive.rdb', 'ns/db/b2/manifest.json'],
      );
      assert.match(repo.location('ns/db/b1/archive.rdb'), kind.name === 's3' ? /^s3:\/\/backups\/contract\/ns\/db\/b1\/archive\.rdb$/ : /^pvc:\/\/orders-backups\/ns\/db\/b1\/archive\.rdb$/);
      await repo.delete('ns/db/b1/archive.rdb');
      assert.equal(await repo.stat('ns/db/b1/archive.rdb'), undefined);
      await assert.rejects(repo.get('ns/db/b1/archive.rdb'), { name: 'ObjectNotFoundError' });
      assert.throws(() => repo.location('../escape'), /invalid repository key/);
    });

    test(`${kind.name}: a stream that fails leaves no object, nor anything to clean up`, async () => {
      const repo = kind.open();
      await assert.rejects(repo.put('ns/db/failed/archive.rdb', failingAfter(20 * 1024 * 1024)), /the engine failed/);
      assert.equal(await repo.stat('ns/db/failed/archive.rdb'), undefined);
      assert.deepEqual(await repo.list('ns/db/failed/'), []);
      assert.equal(await repo.removeIncomplete('ns/db/failed/'), 0, 'the temporary file or multipart upload is already gone');
    });
  }
});

describe('the agent through S3', () => {
  let redis: Redis;
  const env = { ...S3_CREDENTIALS, STRONGROOM_DB_PASSWORD: REDIS_PASSWORD };
  const repository = () => ['--repository', `s3://${s3.bucket}/prod`, '--s3-endpoint', s3.endpoint, '--s3-force-path-style'];
  const where = (backup: string) => [...repository(), '--namespace', 'cache', '--database', 'sessions', '--backup', backup];
  const connection = () => ['--host', '127.0.0.1', '--port', String(redis.port)];
  const keys = async (prefix: string) =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key).sort();
  const uploads = async (prefix: string) => (await s3.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }))).Uploads ?? [];

  before(async () => {
    redis = await startRedis(join(work, 'redis'));
    // About 40 MB, so that a backup is still uploading when it is interrupted.
    const commands: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const value = randomBytes(3000).toString('base64');
      commands.push(`*3\r\n$3\r\nSET\r\n$${`key:${i}`.length}\r\nkey:${i}\r\n$${value.length}\r\n${value}\r\n`);
    }
    await run('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--pipe'], { env: { REDISCLI_AUTH: REDIS_PASSWORD }, input: commands.join('') });
  });
  after(async () => {
    await redis?.stop();
  });

  test('backup, list, restore, delete: the repository alone is enough to find and restore a backup', async () => {
    const fingerprint = await redisFingerprint(redis);
    const result = await agentOk(['backup', '--engine', 'redis', ...connection(), ...where('b1'), '--backup-uid', 'uid-1'], env);
    assert.equal(result.location, `s3://${s3.bucket}/prod/cache/sessions/b1/archive.rdb.zst`);
    assert.deepEqual(await keys('prod/cache/sessions/b1/'), ['prod/cache/sessions/b1/archive.rdb.zst', 'prod/cache/sessions/b1/manifest.json']);

    const listed = await agent(['list', ...repository(), '--namespace', 'cache'], env);
    assert.equal(listed.code, 0);
    assert.equal(listed.result.backup, 'b1');
    assert.equal(listed.result.sha256, result.sha256);
    assert.equal(listed.result.backupUID, 'uid-1');

    await redis.cli('FLUSHALL');
    await redis.stop();
    await agentOk(['restore', ...where('b1'), '--data-dir', redis.dataDir], env);
    await redis.start();
    assert.equal(await redisFingerprint(redis), fingerprint);
    assert.match(fingerprint, /^10000 /);

    assert.deepEqual(await agentOk(['delete', ...where('b1')], env), { deleted: 'cache/sessions/b1' });
    assert.deepEqual(await keys('prod/cache/sessions/b1/'), []);
  });

  test('a corrupted object is refused', async () => {
    await agentOk(['backup', '--engine', 'redis', ...connection(), ...where('corrupt'), '--compression', 'none'], env);
    const key = 'prod/cache/sessions/corrupt/archive.rdb';
    const bytes = Buffer.from(await (await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToByteArray());
    bytes[1000]! ^= 0x01;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));
    const target = join(work, 'corrupt-target');
    const run = await agent(['restore', ...where('corrupt'), '--data-dir', target], env);
    assert.equal(run.code, 1);
    assert.match(run.result.error, /archive digest mismatch/);
    assert.deepEqual(existsSync(target) ? readdirSync(target) : [], []);
  });

  test('SIGTERM mid-upload aborts the multipart upload; SIGKILL leaves one that the retry removes', async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      let started: ReturnType<typeof startAgent> | undefined;
      const recorder = await statusRecorder((patch) => {
        if (patch.body.status.progress?.bytesDone > 0) started?.child.kill(signal);
      });
      const name = `interrupted-${signal.toLowerCase()}`;
      const prefix = `prod/cache/sessions/${name}/`;
      try {
        const args = ['backup', '--engine', 'redis', ...connection(), ...where(name), '--compression', 'none', '--report-to', recorder.url];
        started = startAgent(args, { ...env, STRONGROOM_REPORT_TOKEN: 't' });
        const run = await started.done;
        assert.deepEqual(await keys(prefix), [], 'no object under the backup');
        if (signal === 'SIGTERM') {
          assert.equal(run.code, 1);
          assert.match(run.result.error, /interrupted \(SIGTERM\)/);
          assert.equal(recorder.patches.at(-1)!.body.status.phase, 'Failed');
          assert.deepEqual(await uploads(prefix), [], 'the multipart upload was aborted');
        } else {
          assert.equal(run.code, null);
          const retried = await agentOk(args.slice(0, -2), env);
          assert.equal(retried.sizeBytes, retried.sourceBytes);
          assert.deepEqual(await uploads(prefix), [], 'the retry removed the unfinished upload');
          assert.deepEqual(await keys(prefix), [`${prefix}archive.rdb`, `${prefix}manifest.json`]);
        }
      } finally {
        await recorder.close();
      }
    }
  });
});
