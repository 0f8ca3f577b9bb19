// The strongroom-aead-v1 stream: round trips at every chunk boundary, and every kind of tampering refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { DecryptStream, EncryptStream, encryptionKey } from '../../src/agent/encryption.ts';

const CHUNK = 64;
const SEALED = CHUNK + 16;
const HEADER = 52;
const key = encryptionKey(Buffer.from('a key of thirty-two bytes or more, used as is'));
const otherKey = encryptionKey(Buffer.from('another key of thirty-two bytes or more......'));

/** Feeds `data` in uneven pieces, as a compressor would. */
function pieces(data: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0, n = 1; i < data.length; i += n, n = (n * 7) % 97 + 1) parts.push(data.subarray(i, i + n));
  return Readable.from(parts);
}

async function encrypt(data: Buffer, k = key): Promise<Buffer> {
  const out = new EncryptStream(k, CHUNK);
  const [, result] = await Promise.all([pipeline(pieces(data), out), buffer(out)]);
  return result;
}

async function decrypt(data: Buffer, k = key): Promise<Buffer> {
  const out = new DecryptStream(k);
  const [, result] = await Promise.all([pipeline(pieces(data), out), buffer(out)]);
  return result;
}

describe('round trips', () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5, 10_000]) {
    test(`${size} bytes`, async () => {
      const plain = randomBytes(size);
      const sealed = await encrypt(plain);
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      assert.equal(sealed.length, HEADER + size + chunks * 16);
      assert.deepEqual(await decrypt(sealed), plain);
    });
  }

  test('the same data encrypts differently each time (a fresh salt and subkey per archive)', async () => {
    const plain = Buffer.alloc(200, 1);
    assert.notDeepEqual(await encrypt(plain), await encrypt(plain));
  });
});

describe('tampering is refused', () => {
  const plain = randomBytes(4 * CHUNK + 10); // four full chunks and a short final one
  const cases: { name: string; change: (sealed: Buffer) => Buffer; error: RegExp }[] = [
    { name: 'a flipped bit in a chunk', change: (s) => flip(s, HEADER + SEALED + 3), error: /authentication failed at chunk 1/ },
    { name: 'a flipped bit in a tag', change: (s) => flip(s, HEADER + SEALED - 1), error: /authentication failed at chunk 0/ },
    { name: 'a changed salt in the header', change: (s) => flip(s, 30), error: /authentication failed at chunk 0/ },
    { name: 'a changed chunk size in the header', change: (s) => flip(s, 11), error: /authentication failed|bad chunk size/ },
    { name: 'a cut after a whole chunk', change: (s) => s.subarray(0, HEADER + 2 * SEALED), error: /authentication failed at chunk 1 \(the last\)/ },
    { name: 'a cut inside a chunk', change: (s) => s.subarray(0, s.length - 7), error: /authentication failed/ },
    { name: 'the last chunk dropped', change: (s) => s.subarray(0, HEADER + 4 * SEALED), error: /authentication failed at chunk 3 \(the last\)/ },
    { name: 'nothing after the header', change: (s) => s.subarray(0, HEADER), error: /truncated: its last chunk is missing/ },
    { name: 'a cut inside the header', change: (s) => s.subarray(0, 20), error: /ends inside its strongroom-aead-v1 header/ },
    {
      name: 'two chunks swapped',
      change: (s) => Buffer.concat([s.subarray(0, HEADER), s.subarray(HEADER + SEALED, HEADER + 2 * SEALED), s.subarray(HEADER, HEADER + SEALED), s.subarray(HEADER + 2 * SEALED)]),
      error: /authentication failed at chunk 0/,
    },
    { name: 'bytes appended', change: (s) => Buffer.concat([s, Buffer.alloc(SEALED)]), error: /authentication failed/ },
    { name: 'not an archive', change: (s) => Buffer.concat([Buffer.from('PGDMP'), s]), error: /bad magic/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const sealed = await encrypt(plain);
      await assert.rejects(decrypt(c.change(Buffer.from(sealed))), c.error);
    });
  }

  test('a wrong key fails authentication, and the key id in the header cannot be forged to get past it', async () => {
    const sealed = await encrypt(plain);
    await assert.rejects(decrypt(sealed, otherKey), /authentication failed: the archive was encrypted with key id [0-9a-f]{16}, the key given has key id/);
    const forged = Buffer.from(sealed);
    Buffer.from(otherKey.id, 'hex').copy(forged, 12);
    await assert.rejects(decrypt(forged, otherKey), /authentication failed at chunk 0/);
  });
});

test('keys: at least 32 bytes, and the id names the key without revealing it', () => {
  assert.throws(() => encryptionKey(Buffer.alloc(31)), /at least 32 are needed/);
  assert.match(key.id, /^[0-9a-f]{16}$/);
  assert.notEqual(key.id, otherKey.id);
  assert.equal(encryptionKey(Buffer.from('a key of thirty-two bytes or more, used as is')).id, key.id);
});

function flip(data: Buffer, at: number): Buffer {
  data[at]! ^= 0x01;
  return data;
}
