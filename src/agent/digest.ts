// The SHA-256 and length of the bytes that pass through a stream: what a repository stores is measured as it is
// written, and what a restore reads is measured as it is read, without holding either in memory.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface Measured {
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

/** A pass-through that hashes and counts; `result()` is valid once the stream has ended. */
export class DigestStream extends Transform {
  #hash = createHash('sha256');
  #size = 0;
  #result: Measured | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#result = { size: this.#size, sha256: this.#hash.digest('hex') };
    callback();
  }

  result(): Measured {
    if (!this.#result) throw new Error('digest read before the stream ended');
    return this.#result;
  }
}

/** Refuses an archive whose stored bytes are not the ones recorded when it was made. */
export function verifyDigest(actual: Measured, expected: Pick<Measured, 'sha256'> & Partial<Pick<Measured, 'size'>>): void {
  if (actual.sha256 !== expected.sha256 || (expected.size !== undefined && actual.size !== expected.size)) {
    throw new ArchiveCorruptError(
      `archive digest mismatch: recorded sha256 ${expected.sha256}${expected.size !== undefined ? ` (${expected.size} bytes)` : ''}, ` +
        `read sha256 ${actual.sha256} (${actual.size} bytes); the archive is corrupted and nothing was restored`,
    );
  }
}

/** The archive is not what was written: corrupted, truncated, tampered with, or read with the wrong key. */
export class ArchiveCorruptError extends Error {
  override name = 'ArchiveCorruptError';
}
