// Reads request bodies ourselves: client-go sends raw bodies without a Content-Type, which body-parser middleware
// skips, and the 3 MiB limit must answer 413 as kube-apiserver does.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { badRequest, tooLarge } from '../api/errors.ts';

export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** undefined for an empty body. */
export function parseBody(raw: Buffer, format: 'json' | 'yaml'): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') return undefined;
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`the body of the request could not be decoded as JSON: ${(err as Error).message}`);
    }
  }
  try {
    return parseYaml(text, { maxAliasCount: 100, merge: false });
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded as YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}
