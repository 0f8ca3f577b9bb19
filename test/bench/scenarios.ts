// The timed operations, each written once and run against Strongroom and the bare server alike: the same paths,
// bodies and client, so the only difference is the server.
import { performance } from 'node:perf_hooks';
import { runLoad, type BenchClient, type LoadResult, type Reply } from './client.ts';
import { median, percentile } from './stats.ts';

export type Figures = Record<string, number>;

export const GROUP_PATH = '/apis/strongroom.dev/v1alpha1';
export const NAMESPACE = 'bench';
export const COLLECTION = `${GROUP_PATH}/namespaces/${NAMESPACE}/databases`;
export const MERGE_PATCH = 'application/merge-patch+json';

export function objectName(i: number): string {
  return `db-${String(i).padStart(5, '0')}`;
}

export function databaseManifest(i: number): string {
  return JSON.stringify({
    apiVersion: 'strongroom.dev/v1alpha1',
    kind: 'Database',
    metadata: { name: objectName(i), namespace: NAMESPACE, labels: { app: 'bench', shard: String(i % 10) } },
    spec: { engine: 'postgres', replicas: 1 + (i % 3) * 2, storage: { size: '10Gi' }, parameters: { max_connections: '200' } },
  });
}

/** A merge patch that sets a label; distinct values make every update a real write. */
export function labelPatch(value: number, label = 'revision'): string {
  return JSON.stringify({ metadata: { labels: { [label]: String(value) } } });
}

function throughput(result: LoadResult): Figures {
  return { requestsPerSecond: result.requests / result.seconds };
}

function latency(result: LoadResult): Figures {
  return { p50Ms: percentile(result.latenciesMs, 0.5), p99Ms: percentile(result.latenciesMs, 0.99) };
}

/** POSTs the `count` manifests; on Strongroom this is the seeding. */
export async function measureCreate(client: BenchClient, count: number, concurrency: number): Promise<Figures> {
  const result = await runLoad(concurrency, { count }, (i) => client.expect(201, 'POST', COLLECTION, databaseManifest(i)));
  return throughput(result);
}

export async function measureGet(client: BenchClient, path: string, concurrency: number, durationMs: number): Promise<Figures> {
  await runLoad(concurrency, { count: concurrency * 20 }, () => client.expect(200, 'GET', path)); // warm up
  const result = await runLoad(concurrency, { durationMs }, () => client.expect(200, 'GET', path));
  return { ...throughput(result), ...latency(result) };
}

/** Median ms of `runs` whole-collection LISTs, after one unmeasured run. */
export async function measureListWhole(client: BenchClient, runs: number): Promise<Figures> {
  const times: number[] = [];
  for (let run = -1; run < runs; run++) {
    const t0 = performance.now();
    await client.expect(200, 'GET', COLLECTION);
    if (run >= 0) times.push(performance.now() - t0);
  }
  return { medianMs: median(times) };
}

/**
 * The list's `metadata.continue`, read from the text before `items` rather than by parsing the whole page, so the
 * client's parsing does not blur the server's figure.
 */
export function continueToken(body: Buffer): string {
  const head = body.toString('utf8', 0, Math.max(0, body.indexOf('"items"')));
  const match = /"continue":"([^"]*)"/.exec(head);
  if (head.length > 0) return match ? match[1]! : '';
  return (JSON.parse(body.toString('utf8')) as { metadata?: { continue?: string } }).metadata?.continue ?? '';
}

/** Fetches every page with `limit`; returns the answers in order (each with the token that asked for it). */
export async function listPages(client: BenchClient, limit: number): Promise<Array<{ continue: string; reply: Reply }>> {
  const pages: Array<{ continue: string; reply: Reply }> = [];
  let token = '';
  do {
    const query = `limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
    const reply = await client.expect(200, 'GET', `${COLLECTION}?${query}`);
    pages.push({ continue: token, reply });
    token = continueToken(reply.body);
  } while (token);
  return pages;
}

/** Median total ms to walk all pages, after one unmeasured walk. */
export async function measureListPaginated(client: BenchClient, limit: number, runs: number): Promise<Figures> {
  const times: number[] = [];
  let pages = 0;
  for (let run = -1; run < runs; run++) {
    const t0 = performance.now();
    pages = (await listPages(client, limit)).length;
    if (run >= 0) times.push(performance.now() - t0);
  }
  return { medianMs: median(times), pages };
}

/** Merge-patches objects 0..objects-1 in turn, with labels that change each time. */
export async function measureUpdate(client: BenchClient, objects: number, concurrency: number, durationMs: number): Promise<Figures> {
  const patch = (i: number) => client.expect(200, 'PATCH', `${COLLECTION}/${objectName(i % objects)}`, labelPatch(i), MERGE_PATCH);
  await runLoad(concurrency, { count: concurrency * 5 }, patch); // warm up
  const result = await runLoad(concurrency, { durationMs }, (i) => patch(i + concurrency * 5));
  return throughput(result);
}
