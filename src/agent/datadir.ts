// The local files of a restore. A stopped member's data directory is replaced by filling a new one beside it and
// swapping it in by renames, so a failed or interrupted restore leaves the old directory in place (and at worst a
// `.restoring-*` sibling that the next attempt removes), never a half-filled data directory. Tools that read only
// files get the decoded archive as a hidden staging file, flushed to disk, that is removed should anything fail.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Writes `input` to a new hidden file in `dir` and answers its path; nothing is left behind when it fails. */
export async function stageFile(input: Readable, dir: string, extension: string, signal?: AbortSignal): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `.strongroom-restore-${process.pid}-${randomBytes(4).toString('hex')}.${extension}`);
  try {
    await pipeline(input, createWriteStream(path, { flags: 'wx', mode: 0o600, flush: true }), { signal });
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
  return path;
}

export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Calls `fill` with a path that does not exist yet beside `dataDir`, then puts what it made in `dataDir`'s place. */
export async function replaceDirectory(dataDir: string, fill: (newDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(dataDir);
  const name = basename(dataDir);
  await mkdir(parent, { recursive: true });
  for (const entry of await readdir(parent)) {
    if (entry.startsWith(`${name}.restoring-`) || entry.startsWith(`${name}.replaced-`)) await rm(join(parent, entry), { recursive: true, force: true });
  }
  const fresh = join(parent, `${name}.restoring-${process.pid}`);
  const replaced = join(parent, `${name}.replaced-${process.pid}`);
  try {
    await fill(fresh);
  } catch (error) {
    await rm(fresh, { recursive: true, force: true });
    throw error;
  }
  const hadOld = await rename(dataDir, replaced).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  await rename(fresh, dataDir);
  await syncDirectory(parent);
  if (hadOld) await rm(replaced, { recursive: true, force: true });
}
