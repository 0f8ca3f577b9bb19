// Decodes YAML request bodies in a child process. The yaml library needs seconds for a few MiB (kube-apiserver's
// decoder well under one), and a whole second for a single request would stall every other one, /livez included.
// Each body gets its own short-lived process: a pathological document costs that process alone, the time it may take
// is bounded by a deadline, and its memory goes back to the system when it exits. (Worker threads return their V8
// heap, but the C heap they grew stays with the server: a few YAML bodies of 200,000 nodes left it 500 MiB larger.)
import { fork } from 'node:child_process';
import { badRequest, tooLarge } from '../api/errors.ts';
import type { YamlBounds, YamlOutcome } from './yaml.decoder.ts';

/** Nodes (scalars, collections, aliases) a YAML body may have; about a third of what 3 MiB can hold. */
export const MAX_YAML_NODES = 500_000;
/** How long one YAML body may take to decode before it is refused. */
const DEADLINE_MS = 30_000;
/** YAML bodies decoded at once; more wait, so a flood of them costs two cores' time at most. */
const CONCURRENCY = 2;

const DECODER = new URL('./yaml.decoder.ts', import.meta.url);
/**
 * The library recurses once per level of nesting, about a kilobyte of stack each: 4 MiB leave room for the deepest
 * body decodeBody lets through, and stay well under the 8 MiB main-thread stacks the system gives processes.
 */
const DECODER_FLAGS = ['--stack-size=4000', '--max-old-space-size=1024'];
let running = 0;
const waiting: Array<() => void> = [];

/** The document in `text` as JSON text; throws the parser's error, 400 when it nests too deep, 413 when it is too big. */
export async function decodeYaml(text: string, maxDepth: number): Promise<string> {
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await inChildProcess({ text, maxDepth, maxNodes: MAX_YAML_NODES });
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
        if ('json' in outcome) resolve(outcome.json);
        else if (outcome.beyond === 'nodes') reject(tooComplex(outcome.error));
        else if (outcome.beyond === 'depth') reject(badRequest(`the body of the request could not be decoded as YAML: ${outcome.error}`));
        else reject(new Error(outcome.error));
      }),
    );
    child.once('error', (err) => settle(() => reject(err)));
    // Out of memory or stack: V8 ends the process.
    child.once('exit', (code, signal) => settle(() => reject(tooComplex(`the decoder ended (${signal ?? `exit code ${code}`})`))));
    child.send(input);
  });
}

function tooComplex(why: string) {
  return tooLarge(`the YAML body of the request is too complex to decode: ${why}`);
}
