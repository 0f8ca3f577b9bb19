// How far a backup has got: bytes read from the engine's tool, against the total the engine announced when it could.
import { Transform, type TransformCallback } from 'node:stream';

export interface Progress {
  bytesDone: number;
  bytesTotal?: number;
}

/** A pass-through that calls `onProgress` with the running count after each chunk. */
export class ProgressCounter extends Transform {
  #done = 0;
  readonly #total: number | undefined;
  readonly #onProgress: (progress: Progress) => void;

  constructor(bytesTotal: number | undefined, onProgress: (progress: Progress) => void) {
    super();
    this.#total = bytesTotal;
    this.#onProgress = onProgress;
  }

  get bytesDone(): number {
    return this.#done;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#done += chunk.length;
    // An estimate (postgres' on-disk size) may be passed: the total is never shown below what is done.
    this.#onProgress({ bytesDone: this.#done, ...(this.#total !== undefined ? { bytesTotal: Math.max(this.#total, this.#done) } : {}) });
    callback(null, chunk);
  }
}
