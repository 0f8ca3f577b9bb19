// Authenticated streaming encryption of archives, so an archive in a bucket reveals nothing without its key and any
// change to it — a flipped bit, a dropped, repeated or reordered chunk, a truncation — is detected while it is read.
//
// Format `strongroom-aead-v1` (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, as age uses it):
//
//   header  52 bytes  "SRAEAD01" (8) | chunk size, uint32 big-endian (4) | key id (8) | salt, random (32)
//   chunk   *         AES-256-GCM(subkey, nonce, plaintext, aad = header) ciphertext | 16-byte tag
//
//   subkey  = HKDF-SHA256(ikm = key material, salt = salt, info = "strongroom-aead-v1", 32 bytes): a fresh key per
//             archive, so the counter nonces below never repeat under one key.
//   nonce   = chunk index as an 11-byte big-endian counter | 0x01 for the last chunk, 0x00 for the others.
//   key id  = HMAC-SHA256(key material, "strongroom key id v1"), first 8 bytes: names the key in manifests and errors
//             without revealing it.
//
// Every chunk but the last holds exactly `chunk size` plaintext bytes (64 KiB); the last holds 0 to `chunk size` and
// carries the final flag, so a stream cut at a chunk boundary fails authentication instead of ending early. The
// header is the associated data of every chunk, so it cannot be altered either.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArchiveCorruptError } from './digest.ts';

export const ENCRYPTION_ALGORITHM = 'strongroom-aead-v1';
const MAGIC = Buffer.from('SRAEAD01', 'latin1');
const HEADER_SIZE = 52;
const TAG_SIZE = 16;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK_SIZE = 16;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** The least key material accepted: 256 bits, e.g. `openssl rand -base64 32` (44 bytes of text). */
export const MIN_KEY_BYTES = 32;

export interface EncryptionKey {
  /** 16 hex digits naming the key; safe to record and log. */
  readonly id: string;
  readonly material: Buffer;
}

/** A key from the bytes of a Secret's value, used as they are (a trailing newline is part of the key). */
export function encryptionKey(material: Buffer): EncryptionKey {
  if (material.length < MIN_KEY_BYTES) {
    throw new Error(`the encryption key has ${material.length} bytes; at least ${MIN_KEY_BYTES} are needed (e.g. openssl rand -base64 32)`);
  }
  return { id: keyIdOf(material).toString('hex'), material };
}

function keyIdOf(material: Buffer): Buffer {
  return createHmac('sha256', material).update('strongroom key id v1').digest().subarray(0, 8);
}

function subkey(material: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', material, salt, ENCRYPTION_ALGORITHM, 32));
}

function nonce(index: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  // 2^53 chunks of 64 KiB is far beyond any archive; the upper bytes of the 11-byte counter stay zero.
  n.writeUIntBE(Math.floor(index / 2 ** 32), 3, 3);
  n.writeUInt32BE(index % 2 ** 32, 7);
  n[11] = final ? 1 : 0;
  return n;
}

/** Bytes gathered from a stream until enough are there to cut a chunk. */
class Pending {
  #buffers: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.#buffers.push(chunk);
    this.length += chunk.length;
  }

  take(n: number): Buffer {
    const all = this.#buffers.length === 1 ? this.#buffers[0]! : Buffer.concat(this.#buffers, this.length);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#buffers = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return taken;
  }
}

export class EncryptStream extends Transform {
  #header: Buffer;
  #key: Buffer;
  #chunkSize: number;
  #pending = new Pending();
  #index = 0;
  #headerSent = false;

  constructor(key: EncryptionKey, chunkSize = DEFAULT_CHUNK_SIZE) {
    super();
    if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw new Error(`chunk size ${chunkSize} out of range`);
    const salt = randomBytes(32);
    this.#header = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(this.#header, 0);
    this.#header.writeUInt32BE(chunkSize, 8);
    Buffer.from(key.id, 'hex').copy(this.#header, 12);
    salt.copy(this.#header, 20);
    this.#key = subkey(key.material, salt);
    this.#chunkSize = chunkSize;
  }

  #seal(plaintext: Buffer, final: boolean): void {
    if (!this.#headerSent) {
      this.push(this.#header);
      this.#headerSent = true;
    }
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce(this.#index++, final));
    cipher.setAAD(this.#header);
    const body = cipher.update(plaintext);
    cipher.final();
    this.push(Buffer.concat([body, cipher.getAuthTag()]));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pending.push(chunk);
    // Strictly more than a chunk: a full chunk may turn out to be the last one, which carries the final flag.
    while (this.#pending.length > this.#chunkSize) this.#seal(this.#pending.take(this.#chunkSize), false);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#seal(this.#pending.take(this.#pending.length), true);
    callback();
  }
}

export class DecryptStream extends Transform {
  #material: Buffer;
  #keyId: string;
  #header: Buffer | undefined;
  #key: Buffer | undefined;
  #chunkSize = 0;
  #pending = new Pending();
  #index = 0;

  constructor(key: EncryptionKey) {
    super();
    this.#material = key.material;
    this.#keyId = key.id;
  }

  #readHeader(): void {
    const header = this.#pending.take(HEADER_SIZE);
    if (!header.subarray(0, 8).equals(MAGIC)) throw new ArchiveCorruptError(`not a ${ENCRYPTION_ALGORITHM} archive (bad magic)`);
    const chunkSize = header.readUInt32BE(8);
    if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw new ArchiveCorruptError(`bad chunk size ${chunkSize} in the archive header`);
    const archiveKeyId = header.subarray(12, 20).toString('hex');
    if (archiveKeyId !== this.#keyId) {
      throw new ArchiveCorruptError(
        `authentication failed: the archive was encrypted with key id ${archiveKeyId}, the key given has key id ${this.#keyId}`,
      );
    }
    this.#header = Buffer.from(header);
    this.#chunkSize = chunkSize;
    this.#key = subkey(this.#material, header.subarray(20, 52));
  }

  #open(sealed: Buffer, final: boolean): Buffer {
    const index = this.#index++;
    const decipher = createDecipheriv('aes-256-gcm', this.#key!, nonce(index, final));
    decipher.setAAD(this.#header!);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const body = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      throw new ArchiveCorruptError(
        `authentication failed at chunk ${index}${final ? ' (the last)' : ''}: the archive was altered or truncated`,
      );
    }
    return body;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#pending.push(chunk);
      if (!this.#header) {
        if (this.#pending.length < HEADER_SIZE) return callback();
        this.#readHeader();
      }
      const sealedSize = this.#chunkSize + TAG_SIZE;
      // As when encrypting: only once more bytes follow is a full chunk known not to be the last.
      while (this.#pending.length > sealedSize) this.push(this.#open(this.#pending.take(sealedSize), false));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.#header) throw new ArchiveCorruptError(`the archive ends inside its ${ENCRYPTION_ALGORITHM} header`);
      if (this.#pending.length < TAG_SIZE) throw new ArchiveCorruptError('the archive is truncated: its last chunk is missing');
      this.push(this.#open(this.#pending.take(this.#pending.length), true));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
