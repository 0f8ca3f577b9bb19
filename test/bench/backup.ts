// `npm run bench -- --backup`: the agent's backup and restore throughput on a PostgreSQL database of --size-mb
// (1 GiB by default), beside PostgreSQL's own tools on the same data in the same run:
//
//   backup   agent (pg_dump -Fc -Z0 → zstd in Node → SHA-256 → fs repository, fsync and rename)
//            pg_dump -Fc | zstd > file       (the usual shell pipeline: pg_dump's own gzip, then zstd)
//            pg_dump -Fc -Z0 | zstd > file   (the same work as the agent, in C)
//   restore  agent (download, verify, decode to a file, pg_restore --single-transaction)
//            zstd -dc file | pg_restore      (the same pg_restore flags, streaming)
//
// Throughput is the database's on-disk size (pg_database_size) over wall time; every restore is checked against the
// source's row count and checksum.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { agentOk } from '../agent/agent.ts';
import { POSTGRES_PASSWORD, startPostgres, type Postgres } from '../agent/servers.ts';

export const BACKUP_USAGE = 'Usage: node test/bench/run.ts --backup [--size-mb 1024] [--out bench-backup.json]';

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface Figure {
  seconds: number;
  /** Database bytes (on disk) per second. */
  mbPerSecond: number;
  archiveBytes?: number;
}

function shell(script: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${script} exited ${code}: ${stderr}`))));
  });
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

/** About `sizeMb` of rows that compress as real data does: numbers, hex text, timestamps, an index. */
async function generate(pg: Postgres, sizeMb: number): Promise<void> {
  await pg.psql('CREATE DATABASE source');
  await pg.psql(
    'CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, amount double precision, note text, at timestamptz)',
    'source',
  );
  // About 370 bytes per row on disk, including the primary key's index; batches keep each statement short.
  const rows = Math.ceil((sizeMb * 1024 * 1024) / 370);
  const batch = 500_000;
  for (let from = 1; from <= rows; from += batch) {
    const to = Math.min(rows, from + batch - 1);
    await pg.psql(
      `INSERT INTO events SELECT g, g % 9973, random() * 1000, md5(g::text) || md5((g * 3)::text) || md5(random()::text) || repeat(md5((g % 1000)::text), 5), ` +
        `'2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(${from}, ${to}) g`,
      'source',
    );
    progress(`generated ${to} of ${rows} rows`);
  }
  await pg.psql('VACUUM ANALYZE events', 'source');
}

const fingerprint = (pg: Postgres, dbname: string) =>
  pg.psql("SELECT count(*) || ' ' || sum(hashtext(note)::bigint + account) || ' ' || sum(amount::numeric) FROM events", dbname);

export async function backupMain(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { backup: { type: 'boolean' }, 'size-mb': { type: 'string', default: '1024' }, out: { type: 'string', default: 'bench-backup.json' } } });
  const sizeMb = Number(values['size-mb']);
  if (!Number.isInteger(sizeMb) || sizeMb < 1) throw new Error(`--size-mb: not a positive integer\n${BACKUP_USAGE}`);
  const work = mkdtempSync(join(tmpdir(), 'strongroom-bench-backup-'));
  const pg = await startPostgres(join(work, 'pg'), { settings: ['max_wal_size=4GB', 'checkpoint_timeout=30min', 'maintenance_work_mem=256MB'] });
  try {
    progress(`generating about ${sizeMb} MB`);
    await generate(pg, sizeMb);
    const databaseBytes = Number(await pg.psql("SELECT pg_database_size('source')"));
    const expected = await fingerprint(pg, 'source');
    const mb = databaseBytes / 1024 / 1024;
    const figure = (seconds: number, archiveBytes?: number): Figure => ({ seconds, mbPerSecond: mb / seconds, ...(archiveBytes !== undefined ? { archiveBytes } : {}) });
    const env = { PGPASSWORD: POSTGRES_PASSWORD };
    const connect = `-h 127.0.0.1 -p ${pg.port} -U postgres`;
    const agentArgs = ['--host', '127.0.0.1', '--port', String(pg.port), '--repository', `fs:${join(work, 'repository')}`, '--namespace', 'bench', '--database', 'source', '--backup', 'b1'];

    progress('backup: agent');
    let agentResult: any;
    const agentBackup = await timed(async () => {
      agentResult = await agentOk(['backup', '--engine', 'postgres', '--dbname', 'source', ...agentArgs], { STRONGROOM_DB_PASSWORD: POSTGRES_PASSWORD });
    });
    progress('backup: pg_dump -Fc | zstd');
    const usual = join(work, 'usual.dump.zst');
    const usualBackup = await timed(() => shell(`pg_dump ${connect} -d source -Fc | zstd -q -3 > ${usual}`, env));
    progress('backup: pg_dump -Fc -Z0 | zstd');
    const same = join(work, 'same.dump.zst');
    const sameBackup = await timed(() => shell(`pg_dump ${connect} -d source -Fc -Z0 | zstd -q -3 > ${same}`, env));

    const restoreOptions = '--clean --if-exists --single-transaction --exit-on-error';
    progress('restore: agent');
    await pg.psql('CREATE DATABASE by_agent');
    const agentRestore = await timed(() =>
      agentOk(['restore', '--dbname', 'by_agent', '--scratch-dir', work, ...agentArgs], { STRONGROOM_DB_PASSWORD: POSTGRES_PASSWORD }),
    );
    if ((await fingerprint(pg, 'by_agent')) !== expected) throw new Error('the agent restored different data');
    await pg.psql('DROP DATABASE by_agent');
    progress('restore: zstd -dc | pg_restore');
    await pg.psql('CREATE DATABASE by_tools');
    const toolsRestore = await timed(() => shell(`zstd -q -dc ${same} | pg_restore ${connect} -d by_tools ${restoreOptions}`, env));
    if ((await fingerprint(pg, 'by_tools')) !== expected) throw new Error('pg_restore restored different data');

    const report = {
      node: process.version,
      postgres: await pg.psql('SHOW server_version'),
      databaseBytes,
      dumpBytes: agentResult.sourceBytes as number,
      backup: {
        agent: figure(agentBackup, agentResult.sizeBytes),
        'pg_dump -Fc | zstd': figure(usualBackup, statSync(usual).size),
        'pg_dump -Fc -Z0 | zstd': figure(sameBackup, statSync(same).size),
      },
      restore: {
        agent: figure(agentRestore),
        'zstd -dc | pg_restore': figure(toolsRestore),
      },
    };
    const out = resolve(values.out!);
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    const rows = [
      ...Object.entries(report.backup).map(([name, f]) => ['backup', name, f]),
      ...Object.entries(report.restore).map(([name, f]) => ['restore', name, f]),
    ] as [string, string, Figure][];
    const lines = [
      `PostgreSQL ${report.postgres}, database ${(databaseBytes / 2 ** 20).toFixed(0)} MiB on disk, dump ${(report.dumpBytes / 2 ** 20).toFixed(0)} MiB`,
      `${'step'.padEnd(8)} ${'command'.padEnd(24)} ${'seconds'.padStart(8)} ${'MiB/s'.padStart(8)} ${'archive MiB'.padStart(12)}`,
      ...rows.map(([step, name, f]) =>
        `${step.padEnd(8)} ${name.padEnd(24)} ${f.seconds.toFixed(1).padStart(8)} ${f.mbPerSecond.toFixed(1).padStart(8)} ${(f.archiveBytes === undefined ? '' : (f.archiveBytes / 2 ** 20).toFixed(1)).padStart(12)}`,
      ),
    ];
    process.stdout.write(`\n${lines.join('\n')}\n\nNode ${report.node}; JSON in ${out}\n`);
  } finally {
    await pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
