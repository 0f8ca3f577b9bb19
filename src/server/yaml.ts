// Decodes YAML request bodies. The yaml library needs seconds for a few MiB (kube-apiserver's decoder well under
// one), and a whole second for a single request would stall every other one, /livez included. So each body beyond a
// few pages gets its own short-lived process: a pathological document costs that process alone, the time it may take
// is bounded by a deadline, and its memory goes back to the system when it exits. (Worker threads return their V8
// heap, but the C heap they grew stays with the server: a few YAML bodies of 200,000 nodes left it 500 MiB larger.)
// Small, shallow bodies, which decode in about a millisecond, are decoded in place rather than paying for a process
// start.
import { fork } from 'node:child_process';
import { badRequest, tooLarge } from '../api/errors.ts';
import { decode, type YamlBounds, type YamlOutcome } from './yaml.decode.ts';

/** Nodes (scalars, collections, aliases) a YAML body may have; about a third of what 3 MiB can hold. */
export const MAX_YAML_NODES = 500_000;
/**
 * Bodies up to this size, nested up to this deep, are decoded in the server itself: the server's own stack, unlike
 * the decoder process's, overflows in the library from about 770 levels.
 */
const IN_PLACE_BYTES = 64 * 1024;
const IN_PLACE_DEPTH = 100;
/** How long one YAML body may take to decode before it is refused. */
const DEADLINE_MS = 30_000;
/** YAML bodies decoded at once; more wait, so a flood of them costs two cores' time at most. */
const CONCURRENCY = 2;

const DECODER = new URL('./yaml.child.ts', import.meta.url);
/**
 * The library recurses once per level of nesting, about a kilobyte of stack each: 4 MiB leave room for the deepest
 * body decodeBody lets through, and stay well under the 8 MiB main-thread stacks the system gives processes.
 */
const DECODER_FLAGS = ['--stack-size=4000', '--max-old-space-size=1024'];
let running = 0;
const waiting: Array<() => void> = [];

/** The document in `text` as JSON text; throws the parser's error, 400 when it nests too deep, 413 when it is too big. */
export async function decodeYaml(text: string, maxDepth: number): Promise<string> {
  const input = { text, maxDepth, maxNodes: MAX_YAML_NODES };
  if (text.length <= IN_PLACE_BYTES) {
    const outcome = decode({ ...input, maxDepth: Math.min(maxDepth, IN_PLACE_DEPTH) });
    if (!('beyond' in outcome && outcome.beyond === 'depth')) return decoded(outcome);
  }
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await inChildProcess(input);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function inChildProcess(input: YamlBounds & { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = fork(DECODER, [], { execArgv: DECODER_FLAGS, stdio: ['ignore', 'ignore', 'ignore', 'ipc'], serialization: 'advanced' });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      child.kill('SIGKILL');
      outcome();
    };
    const deadline = setTimeout(() => settle(() => reject(tooComplex(`it was not decoded within ${DEADLINE_MS / 1000}s`))), DEADLINE_MS);
    child.once('message', (outcome: YamlOutcome) =>
      settle(() => {
        try {
          resolve(decoded(outcome));
        } catch (err) {
          reject(err);
        }
      }),
    );
    child.once('error', (err) => settle(() => reject(err)));
    // Out of memory or stack: V8 ends the process.
    child.once('exit', (code, signal) => settle(() => reject(tooComplex(`the decoder ended (${signal ?? `exit code ${code}`})`))));
    child.send(input);
  });
}

/** The decoded JSON, or the outcome's error as the client is to see it. */
function decoded(outcome: YamlOutcome): string {
  if ('json' in outcome) return outcome.json;
  if (outcome.beyond === 'nodes') throw tooComplex(outcome.error);
  if (outcome.beyond === 'depth') throw badRequest(`the body of the request could not be decoded as YAML: ${outcome.error}`);
  throw new Error(outcome.error);
}

function tooComplex(why: string) {
  return tooLarge(`the YAML body of the request is too complex to decode: ${why}`);
}
