// The Secret of generated passwords. A password is made once: later reconciles repeat what the cluster holds, because
// the members were initialised with it and a new one would lock everybody out.
import { randomInt } from 'node:crypto';
import type { Database } from '../api/database.ts';
import type { KubeObject } from '../api/meta.ts';
import { childNames, decodeData, encodeData, metadata } from './common.ts';

const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const PASSWORD_LENGTH = 32;

/**
 * A new password of 32 letters and digits (190 bits). Only letters and digits, so it needs no quoting in a URI,
 * a shell, a postgresql.conf string or an etcdctl `user:password` argument. This is the controller's
 * `EngineContext.generatePassword`.
 */
export function randomPassword(): string {
  let password = '';
  for (let i = 0; i < PASSWORD_LENGTH; i++) password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return password;
}

/** The passwords of a credentials Secret; an empty value counts as missing, since Strongroom never makes one. */
export function readCredentials(secret: KubeObject | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(decodeData(secret)).filter(([, value]) => value !== ''));
}

/** The credentials Secret: every key in `keys`, with the existing password where there is one and a new one elsewhere. */
export function credentialsSecret(
  db: Database,
  keys: readonly string[],
  existing: KubeObject | undefined,
  generatePassword: () => string,
): { secret: KubeObject; passwords: Record<string, string> } {
  const kept = readCredentials(existing);
  const passwords: Record<string, string> = {};
  for (const key of [...keys].sort()) passwords[key] = kept[key] ?? generatePassword();
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(db, childNames(db).credentials),
    type: 'Opaque',
    data: encodeData(passwords),
  };
  return { secret, passwords };
}
