// Where archives are kept: a directory (a PersistentVolumeClaim mounted into the Job) or an S3-compatible bucket.
// Both give the same guarantee: a key either holds a complete object or nothing. An interrupted `put` never leaves
// a partial object under its key.
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Measured } from '../digest.ts';

/** Inclusive byte offsets, as in an HTTP Range header; `end` absent means to the end. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface Repository {
  /** Stores the stream under `key`, replacing what was there, only once the stream has ended without error. */
  put(key: string, stream: Readable, signal?: AbortSignal): Promise<Measured>;
  /** The object's bytes (a range of them when asked); rejects with ObjectNotFoundError when there is none. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Every complete object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes the object; nothing when there is none. */
  delete(key: string): Promise<void>;
  /** The object's size, or undefined when there is none. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /**
   * Removes what interrupted puts under `prefix` left behind (temporary files, unfinished multipart uploads), which
   * are never listed but take space; returns how many. A retried Job calls it before writing again.
   */
  removeIncomplete(prefix: string): Promise<number>;
  /**
   * Only where objects are local files: an open handle on the object, so a restore can verify it and then read it
   * again without copying it first.
   */
  openLocal?(key: string): Promise<FileHandle>;
  /** A URL for the object as Backup status.location shows it: pvc://, file:// or s3://. */
  location(key: string): string;
}

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  readonly key: string;
  constructor(key: string) {
    super(`no object ${key} in the repository`);
    this.key = key;
  }
}
