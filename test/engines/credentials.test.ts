import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialsSecret, randomPassword, readCredentials } from '../../src/engines/credentials.ts';
import { database, decoded, passwordCounter } from './fixtures.ts';

describe('randomPassword', () => {
  it('is 32 letters and digits, different every time', () => {
    const passwords = Array.from({ length: 200 }, randomPassword);
    for (const password of passwords) assert.match(password, /^[A-Za-z0-9]{32}$/);
    assert.equal(new Set(passwords).size, passwords.length);
  });

  it('uses the whole alphabet', () => {
    const seen = new Set(Array.from({ length: 200 }, randomPassword).join(''));
    assert.equal(seen.size, 62);
  });
});

describe('credentialsSecret', () => {
  const db = database('postgres');
  const existing = (data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'orders-credentials', namespace: 'shop' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const table: [string, Record<string, string> | undefined, Record<string, string>, number][] = [
    ['makes every password for a new Secret', undefined, { a: 'generated1', b: 'generated2' }, 2],
    ['keeps every existing password', { a: 'kept-a', b: 'kept-b' }, { a: 'kept-a', b: 'kept-b' }, 0],
    ['adds only what is missing', { b: 'kept-b' }, { a: 'generated1', b: 'kept-b' }, 1],
    ['treats an empty value as missing', { a: '', b: 'kept-b' }, { a: 'generated1', b: 'kept-b' }, 1],
    ['leaves keys it does not manage to their owner', { a: 'kept-a', b: 'kept-b', extra: 'x' }, { a: 'kept-a', b: 'kept-b' }, 0],
  ];
  for (const [name, data, want, calls] of table) {
    it(name, () => {
      const passwords = passwordCounter();
      const { secret, passwords: got } = credentialsSecret(db, ['b', 'a'], data && existing(data), passwords.next);
      assert.deepEqual(got, want);
      assert.deepEqual(decoded(secret), want);
      assert.deepEqual(Object.keys(secret.data as object), ['a', 'b']);
      assert.equal(passwords.calls, calls);
      assert.equal(secret.type, 'Opaque');
    });
  }

  it('reads nothing from a missing Secret', () => {
    assert.deepEqual(readCredentials(undefined), {});
  });
});
