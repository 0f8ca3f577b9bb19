// PostgreSQL through its own tools. Method `dump` (the default): pg_dump's custom format of one database, restored by
// pg_restore into a running server in a single transaction, so a failed restore changes nothing. Method
// `basebackup`: pg_basebackup's tar of the whole cluster with the WAL it needs, restored by unpacking it as the data
// directory of a stopped server.
import { mkdir } from 'node:fs/promises';
import type { Connection, EngineAdapter, RestoreTarget } from '../adapter.ts';
import { required } from '../adapter.ts';
import { replaceDirectory } from '../../agent/datadir.ts';
import { runTool, toolInput, toolOutput, type ToolOptions } from '../../agent/tool.ts';

const DEFAULT_USER = 'postgres';

function toolOptions(connection: Connection, signal?: AbortSignal): ToolOptions {
  const env: Record<string, string> = { PGCONNECT_TIMEOUT: '10', PGAPPNAME: 'strongroom-agent' };
  if (connection.password) env['PGPASSWORD'] = connection.password;
  return { env, secrets: [connection.password ?? ''], signal };
}

function connectionArgs(connection: Connection): string[] {
  return ['--host', connection.host, '--port', String(connection.port), '--username', connection.username ?? DEFAULT_USER, '--no-password'];
}

/** The server's version and a size estimate, in one round trip. */
async function serverFacts(connection: Connection, dbname: string, sizeQuery: string, signal?: AbortSignal) {
  const out = await runTool(
    'psql',
    [...connectionArgs(connection), '--dbname', dbname, '--no-psqlrc', '--tuples-only', '--no-align', '--field-separator', '\t', '--command', `SELECT current_setting('server_version'), (${sizeQuery})`],
    toolOptions(connection, signal),
  );
  const [version, size] = out.trim().split('\t');
  // "15.18 (Debian 15.18-0+deb12u1)" → "15.18"
  return { engineVersion: (version ?? '').split(' ')[0]!, bytesTotal: Number(size) || undefined };
}

export const adapter: EngineAdapter = {

  archiveFormat(method) {
    return method === 'basebackup' ? 'tar' : 'pgdump';
  },

  checkTarget(method, target: RestoreTarget) {
    if (method === 'basebackup') required(target.dataDir, '--data-dir', 'a postgres basebackup');
    else {
      required(target.connection?.host, '--host', 'a postgres dump');
      required(target.connection?.dbname, '--dbname', 'a postgres dump');
    }
  },

  async backup({ method, connection, signal }) {
    const options = toolOptions(connection, signal);
    if (method === 'basebackup') {
      const facts = await serverFacts(connection, connection.dbname ?? 'postgres', 'SELECT sum(pg_database_size(oid)) FROM pg_database', signal);
      // To standard output only tar with the WAL fetched at the end is possible; --checkpoint=fast starts at once.
      const args = [...connectionArgs(connection), '--pgdata=-', '--format=tar', '--wal-method=fetch', '--checkpoint=fast'];
      return { ...facts, stream: toolOutput('pg_basebackup', args, options) };
    }
    const dbname = required(connection.dbname, '--dbname', 'back up a postgres dump');
    const facts = await serverFacts(connection, dbname, 'SELECT pg_database_size(current_database())', signal);
    // Uncompressed: the agent compresses the whole stream, faster and better than pg_dump's per-table gzip.
    const args = [...connectionArgs(connection), '--dbname', dbname, '--format=custom', '--compress=0'];
    return { ...facts, stream: toolOutput('pg_dump', args, options) };
  },

  async restore({ method, target, archive, signal }) {
    if (method === 'basebackup') {
      await replaceDirectory(target.dataDir!, async (dir) => {
        await mkdir(dir, { mode: 0o700 });
        await toolInput('tar', ['--extract', '--directory', dir], archive, { signal });
      });
      return;
    }
    const connection = target.connection!;
    const args = [...connectionArgs(connection), '--dbname', connection.dbname!, '--clean', '--if-exists', '--single-transaction', '--exit-on-error'];
    // Into another Database the dump's owners and grants name roles that do not exist there: the target's
    // application role owns everything instead.
    if (target.role) args.push('--no-owner', '--no-privileges', `--role=${target.role}`);
    // From standard input, in one transaction: it commits only after the whole archive has been read.
    await toolInput('pg_restore', args, archive, toolOptions(connection, signal));
  },
};
