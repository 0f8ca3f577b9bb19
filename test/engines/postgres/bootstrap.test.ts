// The primary's first start as the bootstrap container runs it, with the real PostgreSQL binaries found through PATH
// (no image entrypoint), then the data directory it made served by a real server: the roles, the application
// database and their passwords are what the engine promised.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { POSTGRES_PASSWORD, postgresBin, postgresUser, run, startPostgres, type Postgres } from '../../agent/servers.ts';
import { container, database, render } from '../fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'strongroom-pg-bootstrap-'));
let server: Postgres | undefined;
after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('postgres bootstrap of the primary', () => {
  it('initialises the data directory with the replication and application roles, and moves it into place', async () => {
    // The postgres system user stands for the image's user 999.
    const user = postgresUser();
    await chmod(work, 0o755);
    const volume = join(work, 'volume');
    const socket = join(work, 'run');
    for (const dir of [volume, socket]) {
      await mkdir(dir);
      await chown(dir, user.uid, user.gid);
    }
    const pgdata = join(volume, 'pgdata');
    const script = container(render(database('postgres')), 'bootstrap').command[2] as string;
    await run('sh', ['-c', script], {
      ...user,
      env: {
        PATH: `${postgresBin()}:/usr/bin:/bin`,
        POD_NAME: 'orders-0',
        PGDATA: pgdata,
        PGPASSFILE: join(volume, '.pgpass'),
        SOCKET_DIR: socket,
        PRIMARY_HOST: 'unused',
        APP_USER: 'orders',
        APP_DB: 'orders',
        SUPERUSER_PASSWORD: POSTGRES_PASSWORD,
        REPLICATION_PASSWORD: 'repl-Secret-1',
        APP_PASSWORD: 'app-Secret-1',
      },
    });
    assert.ok(existsSync(join(pgdata, 'PG_VERSION')));
    assert.ok(!existsSync(`${pgdata}.partial`) && !existsSync(`${pgdata}.pwfile`), 'no scratch left behind');

    server = await startPostgres(join(work, 'server'), { dataDir: pgdata });
    assert.equal(await server.psql("SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'"), 't');
    assert.equal(await server.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'orders'"), 'orders');
    assert.equal(await server.psql("SELECT count(*) FROM pg_authid WHERE rolpassword LIKE 'SCRAM-SHA-256$%'"), '3');
    const asApp = await run('psql', ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'orders', '-d', 'orders', '-X', '-A', '-t', '-c', 'SELECT current_user'], {
      env: { PGPASSWORD: 'app-Secret-1' },
    });
    assert.equal(asApp.trim(), 'orders');
  });
});
