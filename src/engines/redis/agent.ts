// Redis through its replication protocol: the agent asks the server for a full synchronisation as a replica would
// (AUTH, REPLCONF rdb-only, SYNC) and receives the RDB snapshot the server writes for it. Without the `eof`
// capability the server sends the file it saved to disk preceded by its exact length, so the stream is the RDB file
// byte for byte and progress has a true total. (`redis-cli --rdb -` does the same but, with the diskless transfer
// of Redis 7, leaves the 40-byte end-of-transfer marker at the end of its standard output.)
//
// A restore writes the verified RDB as dump.rdb into the data directory of the stopped member and removes its
// append-only files, so the server loads the restored snapshot when it starts. Redis has no way to load a snapshot
// into a running server without its debug commands, and loading keys one by one from a parsed RDB would depend on
// every version's encoding; the stopped-member swap is what Redis itself does on startup.
import { rename, rm, open } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { stageFile, syncDirectory } from '../../agent/datadir.ts';
import { required, type Connection, type EngineAdapter } from '../adapter.ts';

const DBFILENAME = 'dump.rdb';
/** The append-only files of Redis 7 (a directory) and of older versions; either would be loaded instead of dump.rdb. */
const AOF_NAMES = ['appendonlydir', 'appendonly.aof'];
const CONNECT_TIMEOUT_MS = 10_000;

export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

/** Just enough of RESP to read the replies before the snapshot: simple strings, errors and bulk strings. */
class ReplyReader {
  #chunks: AsyncIterator<Buffer>;
  buffer: Buffer = Buffer.alloc(0);

  constructor(socket: Socket) {
    this.#chunks = socket[Symbol.asyncIterator]();
  }

  async more(): Promise<Buffer | undefined> {
    const next = await this.#chunks.next();
    return next.done ? undefined : (next.value as Buffer);
  }

  async #fill(): Promise<void> {
    const chunk = await this.more();
    if (!chunk) throw new Error('redis closed the connection');
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  async line(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffer.subarray(0, end).toString('utf8');
        this.buffer = this.buffer.subarray(end + 2);
        return line;
      }
      await this.#fill();
    }
  }

  async reply(): Promise<string> {
    const line = await this.line();
    switch (line[0]) {
      case '+':
      case ':':
        return line.slice(1);
      case '-':
        throw new RedisReplyError(line.slice(1));
      case '$': {
        const length = Number(line.slice(1));
        if (length < 0) return '';
        while (this.buffer.length < length + 2) await this.#fill();
        const value = this.buffer.subarray(0, length).toString('utf8');
        this.buffer = this.buffer.subarray(length + 2);
        return value;
      }
      default:
        throw new Error(`unexpected reply from redis: ${JSON.stringify(line.slice(0, 80))}`);
    }
  }

  /** The length announced before the snapshot; the server sends bare newlines while it is still saving. */
  async snapshotLength(): Promise<number> {
    for (;;) {
      while (this.buffer.length > 0 && this.buffer[0] === 0x0a) this.buffer = this.buffer.subarray(1);
      if (this.buffer.length > 0) break;
      await this.#fill();
    }
    const line = await this.line();
    if (line.startsWith('-')) throw new RedisReplyError(line.slice(1));
    const length = Number(line.slice(1));
    if (line[0] !== '$' || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(`unexpected answer to SYNC from redis: ${JSON.stringify(line.slice(0, 80))}`);
    }
    return length;
  }
}

function command(...args: string[]): Buffer {
  const parts = args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(`*${args.length}\r\n${parts.join('')}`);
}

function openSocket(connection: Connection, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: connection.host, port: connection.port, signal });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`redis at ${connection.host}:${connection.port} did not answer`)));
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The RDB snapshot of a running server, and its version, over one replication connection. */
async function snapshot(connection: Connection, signal?: AbortSignal): Promise<{ stream: Readable; engineVersion: string; bytesTotal: number }> {
  const socket = await openSocket(connection, signal);
  try {
    const reader = new ReplyReader(socket);
    if (connection.password) {
      const auth = connection.username ? ['AUTH', connection.username, connection.password] : ['AUTH', connection.password];
      socket.write(command(...auth));
      await reader.reply().catch((error: Error) => {
        throw new Error(`redis refused the credentials: ${error.message}`);
      });
    }
    socket.write(command('INFO', 'server'));
    const engineVersion = /^redis_version:(\S+)/m.exec(await reader.reply())?.[1] ?? 'unknown';
    // Redis 7 then sends the snapshot alone, without the commands that follow it; older versions answer an error.
    socket.write(command('REPLCONF', 'rdb-only', '1'));
    await reader.reply().catch((error: unknown) => {
      if (!(error instanceof RedisReplyError)) throw error;
    });
    socket.write(command('SYNC'));
    const bytesTotal = await reader.snapshotLength();
    async function* body(): AsyncGenerator<Buffer> {
      try {
        let remaining = bytesTotal;
        let chunk: Buffer | undefined = reader.buffer;
        while (remaining > 0) {
          if (!chunk) throw new Error(`redis closed the connection with ${remaining} bytes of the snapshot still to come`);
          if (chunk.length > 0) {
            const part = chunk.subarray(0, remaining);
            remaining -= part.length;
            yield part;
          }
          if (remaining > 0) chunk = await reader.more();
        }
      } finally {
        socket.destroy();
      }
    }
    return { stream: Readable.from(body(), { objectMode: false, highWaterMark: 64 * 1024 }), engineVersion, bytesTotal };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

async function startsWithRdbMagic(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(5), 0, 5, 0);
    return bytesRead === 5 && buffer.toString('latin1') === 'REDIS';
  } finally {
    await handle.close();
  }
}

export const adapter: EngineAdapter = {

  archiveFormat() {
    return 'rdb';
  },

  checkTarget(_method, target) {
    required(target.dataDir, '--data-dir', 'redis');
  },

  backup({ connection, signal }) {
    return snapshot(connection, signal);
  },

  async restore({ target, archive, signal }) {
    const dataDir = target.dataDir!;
    // Staged in the data directory itself, so that the rename below is atomic.
    const file = await stageFile(archive, dataDir, 'rdb', signal);
    try {
      if (!(await startsWithRdbMagic(file))) throw new Error('the archive is not an RDB file');
      for (const name of AOF_NAMES) await rm(join(dataDir, name), { recursive: true, force: true });
      await rename(file, join(dataDir, DBFILENAME));
    } finally {
      await rm(file, { force: true });
    }
    await syncDirectory(dataDir);
  },
};
