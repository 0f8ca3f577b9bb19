// Reads and decodes request bodies ourselves: client-go sends raw bodies without a Content-Type, which body-parser
// middleware skips, and the 3 MiB limit must answer 413 as kube-apiserver does. Every body the API accepts passes
// through decodeBody, so the bounds on nesting and on YAML's cost hold for creates, updates, every patch type,
// /scale, actions and delete options alike.
import type { IncomingMessage } from 'node:http';
import { badRequest, StatusError } from '../api/errors.ts';
import type { BodyFormat } from './negotiation.ts';
import { decodeYaml } from './yaml.ts';

export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a body may have. kube-apiserver's JSON decoder stops at 10,000 levels, where
 * Go's stacks grow as needed; ours are fixed, and the recursive steps after decoding (merge patch, schema pruning,
 * managed fields) overflow Node's stack from about 2,000 levels. No Kubernetes object comes near either.
 */
export const MAX_BODY_DEPTH = 1000;

/**
 * The whole body, at most `limit` bytes. Over the limit it answers 413 and closes the connection: draining the rest
 * would let a client keep the server reading for as long as it likes, as Go's MaxBytesReader prevents too.
 */
export async function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLargeClosing();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLargeClosing();
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof StatusError) throw err;
    // The client went away mid-upload: its own doing, answered (to nobody) as a bad request, not an internal error.
    throw badRequest(`the request body could not be read: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks);
}

function tooLargeClosing(): StatusError {
  // Node stops reading and closes the socket once a response with `Connection: close` is sent.
  return new StatusError(413, 'RequestEntityTooLarge', 'the request is too large', undefined, { Connection: 'close' });
}

/**
 * The body as a value; undefined for an empty one. JSON is parsed as JSON whatever the endpoint, YAML too when it is
 * JSON (kubectl sends apply patches as JSON under the YAML media type), and the rest goes to the YAML decoder.
 */
export async function decodeBody(raw: Buffer, format: BodyFormat): Promise<unknown> {
  const text = raw.toString('utf8');
  const start = firstSignificant(text);
  if (start < 0) return undefined;
  if (format === 'json') return decodeJSON(text, start);
  if (text[start] === '{' || text[start] === '[') {
    try {
      return decodeJSON(text, start);
    } catch (err) {
      // Flow-style YAML (`{a: b}`) is not JSON; only nesting too deep for either is final here.
      if ((err as Error).message.includes('exceeded max depth')) throw err;
    }
  }
  let json: string;
  try {
    json = await decodeYaml(text, MAX_BODY_DEPTH);
  } catch (err) {
    if (err instanceof StatusError) throw err;
    throw badRequest(`the body of the request could not be decoded as YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return decodeJSON(json, 0);
}

function decodeJSON(text: string, start: number): unknown {
  const tooDeep = nestingBeyond(text, start, MAX_BODY_DEPTH);
  if (tooDeep !== undefined) {
    throw badRequest(`the body of the request could not be decoded as JSON: invalid character '${tooDeep}' exceeded max depth of ${MAX_BODY_DEPTH}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded as JSON: ${(err as Error).message}`);
  }
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The bracket that opens level `max + 1`, or undefined when the text nests no deeper than `max`. One pass over the
 * characters, skipping strings, before anything recursive sees the value (JSON.parse itself is not recursive).
 */
function nestingBeyond(text: string, start: number, max: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return text[i];
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return undefined;
}

function firstSignificant(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // The whitespace JSON allows, and a byte-order mark.
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0xfeff) return i;
  }
  return -1;
}
