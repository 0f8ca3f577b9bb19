// The agent against a real PostgreSQL server on loopback: dump and basebackup round trips, restores into another
// database, corrupted and encrypted archives, an interrupted backup, and status reports.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { agent, agentOk, startAgent, statusRecorder } from './agent.ts';
import { chownToPostgres, POSTGRES_PASSWORD, startPostgres, type Postgres } from './servers.ts';

const work = mkdtempSync(join(tmpdir(), 'strongroom-agent-pg-'));
const repo = join(work, 'repository');
const env = { STRONGROOM_DB_PASSWORD: POSTGRES_PASSWORD };
let pg: Postgres;

const SCHEMA = `
CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, payload jsonb, created timestamptz);
INSERT INTO items SELECT g, 'item ' || g, jsonb_build_object('g', g, 'h', md5(g::text)), '2026-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 20000) g;
CREATE INDEX items_name ON items (name);
CREATE SEQUENCE tickets START 500;
SELECT nextval('tickets');
CREATE VIEW recent AS SELECT id, name FROM items WHERE id > 19990;
CREATE TABLE notes (id serial PRIMARY KEY, item bigint REFERENCES items, body text);
INSERT INTO notes (item, body) SELECT g, repeat('note ', g % 7) FROM generate_series(1, 2000) g;`;

/** Row counts and content digests of everything the schema holds. */
async function fingerprint(dbname = 'app'): Promise<string> {
  return pg.psql(
    `SELECT (SELECT count(*) FROM items) || ' ' || (SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i) || ' ' ||
            (SELECT count(*) FROM notes) || ' ' || (SELECT md5(string_agg(n::text, ',' ORDER BY id)) FROM notes n) || ' ' ||
            (SELECT last_value FROM tickets) || ' ' || (SELECT count(*) FROM recent)`,
    dbname,
  );
}

const connection = (dbname = 'app') => ['--host', '127.0.0.1', '--port', String(pg.port), '--dbname', dbname];
const where = (backup: string, repository = repo) => ['--repository', `fs:${repository}`, '--namespace', 'shop', '--database', 'orders', '--backup', backup];

function backupDir(backup: string): string {
  return join(repo, 'shop', 'orders', backup);
}

function archiveFile(backup: string): string {
  const name = readdirSync(backupDir(backup)).find((f) => f.startsWith('archive.'));
  assert.ok(name, `no archive in ${backupDir(backup)}`);
  return join(backupDir(backup), name);
}

before(async () => {
  pg = await startPostgres(join(work, 'pg'));
  await pg.psql('CREATE DATABASE app');
  await pg.psql(SCHEMA, 'app');
});

after(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('postgres dump', () => {
  const cases = [
    { backup: 'zstd', flags: ['--compression', 'zstd'], archive: 'archive.pgdump.zst' },
    { backup: 'gzip-encrypted', flags: ['--compression', 'gzip'], encrypted: true, archive: 'archive.pgdump.gz.enc' },
    { backup: 'plain', flags: ['--compression', 'none'], archive: 'archive.pgdump' },
  ];
  for (const c of cases) {
    test(`${c.backup}: back up, wipe, restore gives identical data`, async () => {
      const keyEnv: Record<string, string> = c.encrypted ? { STRONGROOM_ENCRYPTION_KEY: 'k'.repeat(40) } : {};
      const before = await fingerprint();
      const result = await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where(c.backup), ...c.flags, '--backup-uid', `uid-${c.backup}`], { ...env, ...keyEnv });

      const stored = readFileSync(join(backupDir(c.backup), c.archive));
      assert.equal(result.sizeBytes, stored.length);
      assert.equal(result.sha256, createHash('sha256').update(stored).digest('hex'));
      assert.equal(result.location, `file://${join(backupDir(c.backup), c.archive)}`);
      assert.equal(result.engineVersion.split('.')[0], (await pg.psql('SHOW server_version_num')).slice(0, 2));
      const manifest = JSON.parse(readFileSync(join(backupDir(c.backup), 'manifest.json'), 'utf8'));
      assert.equal(manifest.sha256, result.sha256);
      assert.equal(manifest.backupUID, `uid-${c.backup}`);
      assert.equal(manifest.method, 'dump');
      assert.equal(manifest.encryption?.algorithm, c.encrypted ? 'strongroom-aead-v1' : undefined);
      assert.ok(!JSON.stringify(manifest).includes('k'.repeat(40)), 'the key is never recorded');

      await pg.psql('DROP VIEW recent; DROP TABLE notes; DROP TABLE items; DROP SEQUENCE tickets', 'app');
      await pg.psql('CREATE TABLE items (id int)', 'app'); // a conflicting object that --clean must replace
      const restored = await agentOk(['restore', '--engine', 'postgres', ...connection(), ...where(c.backup), '--sha256', result.sha256], { ...env, ...keyEnv });
      assert.equal(restored.restored, true);
      assert.equal(await fingerprint(), before);
    });
  }

  test('a retried Job of a completed backup reports it again; another backup of the same name is refused', async () => {
    const first = await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where('retried'), '--backup-uid', 'u1'], env);
    const again = await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where('retried'), '--backup-uid', 'u1'], env);
    assert.deepEqual(again, first);
    const other = await agent(['backup', '--engine', 'postgres', ...connection(), ...where('retried'), '--backup-uid', 'u2'], env);
    assert.equal(other.code, 1);
    assert.match(other.result.error, /already holds backup shop\/orders\/retried \(backup uid u1\)/);
  });

  test('restore into another database: objects belong to its role', async () => {
    await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where('copy')], env);
    await pg.psql("CREATE ROLE other_app LOGIN PASSWORD 'x'");
    await pg.psql('CREATE DATABASE other OWNER other_app');
    await agentOk(['restore', ...connection('other'), ...where('copy'), '--role', 'other_app'], env);
    assert.equal(await fingerprint('other'), await fingerprint('app'));
    assert.equal(await pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'items'", 'other'), 'other_app');
  });

  test('a wrong password fails the backup with the tool\'s reason, leaves no backup, and is never printed', async () => {
    const run = await agent(['backup', '--engine', 'postgres', ...connection(), ...where('badpass')], { STRONGROOM_DB_PASSWORD: 'wrong-password-xyz' });
    assert.equal(run.code, 1);
    assert.match(run.result.error, /password authentication failed/);
    assert.ok(!run.stdout.includes('wrong-password-xyz') && !run.stderr.includes('wrong-password-xyz'));
    assert.equal(existsSync(join(backupDir('badpass'), 'manifest.json')), false);
  });
});

describe('refusing bad archives', () => {
  test('a flipped byte is refused by the digest check and nothing is restored', async (t) => {
    for (const compression of ['none', 'zstd']) {
      await t.test(compression, async () => {
        const name = `corrupt-${compression}`;
        await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where(name), '--compression', compression], env);
        const file = archiveFile(name);
        const bytes = readFileSync(file);
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        writeFileSync(file, bytes);
        await pg.psql("UPDATE items SET name = 'changed after the backup' WHERE id = 1", 'app');
        const changed = await fingerprint();
        const run = await agent(['restore', ...connection(), ...where(name)], env);
        assert.equal(run.code, 1);
        assert.match(run.result.error, compression === 'none' ? /archive digest mismatch/ : /digest mismatch|corrupted/);
        assert.match(run.result.error, /nothing was restored/);
        assert.equal(await fingerprint(), changed, 'the database is as it was');
      });
    }
  });

  test('an archive that fails to decode half-way is rolled back: pg_restore never commits', async () => {
    // Tampering that also rewrote the manifest's digest: only the encryption can catch it, chunks after pg_restore
    // has started reading. (Without --sha256 from the Backup, which would have caught it first.)
    const key = { STRONGROOM_ENCRYPTION_KEY: 'the-right-key-'.repeat(3) };
    await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where('forged'), '--compression', 'none'], { ...env, ...key });
    const file = archiveFile('forged');
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 0x01; // in the last chunk: everything before it reaches pg_restore
    writeFileSync(file, bytes);
    const manifestFile = join(backupDir('forged'), 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    manifest.sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(manifestFile, JSON.stringify(manifest));
    await pg.psql("UPDATE items SET name = 'changed after the forged backup' WHERE id = 4", 'app');
    const changed = await fingerprint();
    const run = await agent(['restore', ...connection(), ...where('forged')], { ...env, ...key });
    assert.equal(run.code, 1);
    assert.match(run.result.error, /authentication failed at chunk \d+ \(the last\)/);
    assert.equal(await fingerprint(), changed, 'the single transaction was rolled back');
  });

  test('a digest that differs from the Backup\'s is refused before anything is read', async () => {
    await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where('other-digest')], env);
    const run = await agent(['restore', ...connection(), ...where('other-digest'), '--sha256', 'f'.repeat(64)], env);
    assert.equal(run.code, 1);
    assert.match(run.result.error, /but the Backup recorded f{64}/);
  });

  test('an encrypted archive cannot be read without its key, and a wrong key fails authentication', async () => {
    const key = { STRONGROOM_ENCRYPTION_KEY: 'the-right-key-'.repeat(3) };
    await pg.psql("UPDATE items SET name = 'secret-marker-4711' WHERE id = 2", 'app');
    const result = await agentOk(['backup', '--engine', 'postgres', ...connection(), ...where('sealed'), '--compression', 'none'], { ...env, ...key });
    assert.ok(!readFileSync(archiveFile('sealed')).includes('secret-marker-4711'), 'no plaintext in the stored archive');
    const changed = await fingerprint();
    await pg.psql("UPDATE items SET name = 'after' WHERE id = 3", 'app');
    const afterChange = await fingerprint();

    const without = await agent(['restore', ...connection(), ...where('sealed')], env);
    assert.equal(without.code, 1);
    assert.match(without.result.error, /encrypted with key id [0-9a-f]{16}; give its key/);

    const keyFile = join(work, 'wrong.key');
    writeFileSync(keyFile, 'another-key-of-enough-length-0123456789');
    const wrong = await agent(['restore', ...connection(), ...where('sealed'), '--encryption-key-file', keyFile], env);
    assert.equal(wrong.code, 1);
    assert.match(wrong.result.error, /authentication failed/);
    assert.equal(await fingerprint(), afterChange, 'nothing was restored');

    const right = await agentOk(['restore', ...connection(), ...where('sealed'), '--sha256', result.sha256], { ...env, ...key });
    assert.equal(right.restored, true);
    assert.equal(await fingerprint(), changed);
  });
});

describe('interrupted backups and status reports', () => {
  before(async () => {
    // Enough data (about 60 MB) that the backup is still streaming when the agent is killed.
    await pg.psql(
      "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || repeat(md5((g * 31)::text), 12) AS body FROM generate_series(1, 120000) g",
      'app',
    );
  });
  after(async () => {
    await pg.psql('DROP TABLE bulk', 'app');
  });

  test('an agent killed mid-stream leaves nothing that looks usable; the retry completes', async () => {
    let agentProcess: ReturnType<typeof startAgent> | undefined;
    const recorder = await statusRecorder((patch) => {
      if (patch.body.status.progress?.bytesDone > 0) agentProcess?.child.kill('SIGKILL');
    });
    try {
      const args = ['backup', '--engine', 'postgres', ...connection(), ...where('killed'), '--report-to', recorder.url, '--backup-uid', 'k1'];
      agentProcess = startAgent(args, { ...env, STRONGROOM_REPORT_TOKEN: 'token-1' });
      const run = await agentProcess.done;
      assert.equal(run.code, null, 'killed by the signal');
      assert.equal(existsSync(join(backupDir('killed'), 'manifest.json')), false);
      const left = existsSync(backupDir('killed')) ? readdirSync(backupDir('killed')) : [];
      assert.deepEqual(left.filter((f) => !f.startsWith('.')), [], 'no archive under its name');
      const listed = await agent(['list', '--repository', `fs:${repo}`, '--namespace', 'shop', '--database', 'orders']);
      assert.equal(listed.code, 0);
      assert.ok(!listed.stdout.includes('"backup":"killed"'), `listed: ${listed.stdout}`);

      const retried = await agentOk(args, { ...env, STRONGROOM_REPORT_TOKEN: 'token-1' });
      assert.ok(retried.sourceBytes > 60_000_000);
      assert.deepEqual(readdirSync(backupDir('killed')).sort(), ['archive.pgdump.zst', 'manifest.json'], 'the partial file was removed');
    } finally {
      await recorder.close();
    }
  });

  test('progress and the result are merge-patched into the Backup status', async () => {
    const recorder = await statusRecorder();
    try {
      const result = await agentOk(
        ['backup', '--engine', 'postgres', ...connection(), ...where('reported'), '--report-to', recorder.url],
        { ...env, STRONGROOM_REPORT_TOKEN: 'token-2' },
      );
      const { patches } = recorder;
      assert.ok(patches.length >= 3, `patches: ${JSON.stringify(patches)}`);
      for (const p of patches) {
        assert.equal(p.path, 'PATCH /apis/strongroom.dev/v1alpha1/namespaces/shop/backups/reported/status');
        assert.equal(p.contentType, 'application/merge-patch+json');
        assert.equal(p.authorization, 'Bearer token-2');
      }
      assert.equal(patches[0]!.body.status.phase, 'Running');
      assert.ok(patches[0]!.body.status.startTime);
      const progress = patches.slice(1, -1).map((p) => p.body.status.progress);
      assert.ok(progress.length >= 1 && progress.every((p) => p.bytesDone > 0 && p.bytesTotal >= p.bytesDone), JSON.stringify(progress));
      const final = patches.at(-1)!.body.status;
      assert.deepEqual(
        { phase: final.phase, sizeBytes: final.sizeBytes, sha256: final.sha256, location: final.location, engine: final.engine },
        { phase: 'Completed', sizeBytes: result.sizeBytes, sha256: result.sha256, location: result.location, engine: 'postgres' },
      );
      assert.equal(final.progress.bytesDone, result.sourceBytes);
    } finally {
      await recorder.close();
    }
  });
});

describe('postgres basebackup', () => {
  test('the restored data directory starts as a copy of the cluster', async () => {
    const before = await fingerprint();
    await agentOk(['backup', '--engine', 'postgres', '--method', 'basebackup', ...connection('postgres'), ...where('physical')], env);
    const dataDir = join(work, 'restored', 'data');
    await agentOk(['restore', ...where('physical'), '--data-dir', dataDir, '--scratch-dir', work]);
    await chownToPostgres(join(work, 'restored'));
    const copy = await startPostgres(join(work, 'restored'), { dataDir });
    try {
      const original = pg;
      pg = copy;
      try {
        assert.equal(await fingerprint(), before);
      } finally {
        pg = original;
      }
    } finally {
      await copy.stop();
    }
  });
});
