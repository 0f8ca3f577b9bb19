// Decodes YAML request bodies in a worker thread. The yaml library needs seconds for a few MiB (kube-apiserver's
// decoder well under one), and a whole second for a single request would stall every other one, /livez included.
// Each body gets its own short-lived worker: a pathological document costs that thread alone, the time it may take
// is bounded by a deadline, and its memory goes back when the thread ends instead of staying in the server's heap.
import { Worker } from 'node:worker_threads';
import { badRequest, tooLarge } from '../api/errors.ts';
import type { YamlBounds, YamlOutcome } from './yaml.worker.ts';

/** Nodes (scalars, collections, aliases) a YAML body may have; about a third of what 3 MiB can hold. */
export const MAX_YAML_NODES = 500_000;
/** How long one YAML body may take to decode before it is refused. */
const DEADLINE_MS = 30_000;
/** YAML bodies decoded at once; more wait, so a flood of them costs two cores' time at most. */
const CONCURRENCY = 2;

const WORKER = new URL('./yaml.worker.ts', import.meta.url);
let running = 0;
const waiting: Array<() => void> = [];

/** The document in `text` as JSON text; throws the parser's error, 400 when it nests too deep, 413 when it is too big. */
export async function decodeYaml(text: string, maxDepth: number): Promise<string> {
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await inWorker({ text, maxDepth, maxNodes: MAX_YAML_NODES });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function inWorker(input: YamlBounds & { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    // The library recurses once per level of nesting, about a kilobyte of stack each: room for maxDepth levels.
    const worker = new Worker(WORKER, { workerData: input, resourceLimits: { stackSizeMb: 32, maxOldGenerationSizeMb: 1024 } });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      void worker.terminate();
      outcome();
    };
    const deadline = setTimeout(() => settle(() => reject(tooComplex(`it was not decoded within ${DEADLINE_MS / 1000}s`))), DEADLINE_MS);
    worker.once('message', (outcome: YamlOutcome) =>
      settle(() => {
        if ('json' in outcome) resolve(outcome.json);
        else if (outcome.beyond === 'nodes') reject(tooComplex(outcome.error));
        else if (outcome.beyond === 'depth') reject(badRequest(`the body of the request could not be decoded as YAML: ${outcome.error}`));
        else reject(new Error(outcome.error));
      }),
    );
    worker.once('error', (err: NodeJS.ErrnoException) =>
      settle(() => reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? tooComplex('decoding it ran out of memory') : err)),
    );
    worker.once('exit', () => settle(() => reject(new Error('the YAML decoder stopped unexpectedly'))));
  });
}

function tooComplex(why: string) {
  return tooLarge(`the YAML body of the request is too complex to decode: ${why}`);
}
