// A repository in a directory: the backup PersistentVolumeClaim mounted into the Job. A put writes a hidden temporary
// file beside its target, flushes it, and renames it over the key, then flushes the directory: a run killed at any
// point leaves either the complete object or no object under the key, and at worst a hidden `.partial` file that
// `list` never shows and `removeIncomplete` deletes.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestStream, type Measured } from '../digest.ts';
import { ObjectNotFoundError, type ByteRange, type ObjectInfo, type Repository } from './repository.ts';

const PARTIAL = '.partial-';

/** A key is a relative path of plain names: nothing may escape the repository's directory. */
export function checkKey(key: string): void {
  const parts = key.split('/');
  if (key === '' || parts.some((p) => p === '' || p === '.' || p === '..' || p.startsWith('.'))) {
    throw new Error(`invalid repository key ${JSON.stringify(key)}`);
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface FilesystemRepositoryOptions {
  /** The directory where the claim is mounted. */
  root: string;
  /** The claim's name, for pvc:// locations; file:// locations without it. */
  claimName?: string;
}

export class FilesystemRepository implements Repository {
  readonly #root: string;
  readonly #claimName: string | undefined;

  constructor(options: FilesystemRepositoryOptions) {
    this.#root = options.root;
    this.#claimName = options.claimName;
  }

  #path(key: string): string {
    checkKey(key);
    return join(this.#root, ...key.split('/'));
  }

  async put(key: string, stream: Readable, signal?: AbortSignal): Promise<Measured> {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const partial = join(dirname(path), `.${posix.basename(key)}${PARTIAL}${process.pid}-${randomBytes(4).toString('hex')}`);
    const digest = new DigestStream();
    try {
      // flush: fsync before close, so the rename below never publishes a file whose blocks are still in the page cache.
      await pipeline(stream, digest, createWriteStream(partial, { flags: 'wx', mode: 0o600, flush: true }), { signal });
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    await fsyncPath(dirname(path));
    return digest.result();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    // Opened before returning, so a missing object is an error here rather than on the stream.
    const handle = await this.openLocal(key);
    return createReadStream('', { fd: handle, start: range?.start, end: range?.end });
  }

  openLocal(key: string): Promise<FileHandle> {
    return open(this.#path(key), 'r').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new ObjectNotFoundError(key) : error;
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return [];
        throw error;
      });
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const key = `${keyPrefix}${entry.name}`;
        // Descend only where the prefix can still match.
        if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
        if (entry.isDirectory()) await walk(join(dir, entry.name), `${key}/`);
        else if (entry.isFile() && key.startsWith(prefix)) found.push({ key, size: (await stat(join(dir, entry.name))).size });
      }
    };
    await walk(this.#root, '');
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    await rm(path, { force: true });
    // Empty backup directories would otherwise pile up as backups are deleted.
    for (let dir = dirname(path); dir.startsWith(`${this.#root}/`); dir = dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) break;
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const info = await stat(this.#path(key)).catch(() => undefined);
    return info?.isFile() ? { key, size: info.size } : undefined;
  }

  async removeIncomplete(prefix: string): Promise<number> {
    const dir = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    const path = dir === '' ? this.#root : this.#path(dir);
    let removed = 0;
    const walk = async (d: string): Promise<void> => {
      const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (entry.isDirectory()) await walk(join(d, entry.name));
        else if (entry.name.startsWith('.') && entry.name.includes(PARTIAL)) {
          await rm(join(d, entry.name), { force: true });
          removed++;
        }
      }
    };
    await walk(path);
    return removed;
  }

  location(key: string): string {
    checkKey(key);
    return this.#claimName ? `pvc://${this.#claimName}/${key}` : `file://${join(this.#root, key)}`;
  }
}
