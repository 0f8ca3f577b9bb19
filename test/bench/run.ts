// `npm run bench`: Strongroom against a bare Node HTTPS server that returns the same bytes, in the same run, on the
// same machine. Seeds the Databases (the create figure), captures Strongroom's answers for the bare server, then
// times each operation on one server and then the other. Prints a table; writes JSON to --out.
// `npm run bench -- --controller` measures the controller instead (controller.ts), and `npm run bench -- --backup`
// the backup agent's throughput against pg_dump and pg_restore (backup.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { captureFixtures, currentResourceVersion, watchPath } from './capture.ts';
import { CONTROLLER_USAGE, parseControllerOptions, renderControllerTable, runControllerBench } from './controller.ts';
import { BenchClient } from './client.ts';
import { writeFixtures } from './fixtures.ts';
import { parseBenchOptions, USAGE, type BenchOptions } from './options.ts';
import { startBareServer, startStrongroom, type ChildServer } from './processes.ts';
import { newReport, renderCpuTable, renderTable, writeReport, type Comparison, type Diagnostics, type Operation } from './report.ts';
import {
  COLLECTION,
  labelPatch,
  measureCreate,
  measureGet,
  measureListPaginated,
  measureListWhole,
  measureUpdate,
  MERGE_PATCH,
  objectName,
  type Figures,
} from './scenarios.ts';
import { median, percentile } from './stats.ts';
import { measureWatchDelivery, type WatchDelivery } from './watchers.ts';

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

type Side = 'strongroom' | 'bare';

interface Target {
  side: Side;
  server: ChildServer;
  client: BenchClient;
}

/** Runs `measure` on one server, and charges the server's CPU time to the requests the client sent meanwhile. */
async function measureOn(target: Target, measure: (client: BenchClient) => Promise<Figures>): Promise<{ figures: Figures; cpuMsPerRequest: number }> {
  const cpu = target.server.cpuSeconds();
  const sent = target.client.requestsSent;
  const figures = await measure(target.client);
  return { figures, cpuMsPerRequest: ((target.server.cpuSeconds() - cpu) * 1000) / (target.client.requestsSent - sent) };
}

/** Prometheus gauges of the V8 heap from /metrics, in MiB (NaN when absent). */
async function heapMiB(client: BenchClient): Promise<Figures> {
  const text = (await client.expect(200, 'GET', '/metrics')).body.toString('utf8');
  const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { usedMiB: gauge('nodejs_heap_size_used_bytes'), totalMiB: gauge('nodejs_heap_size_total_bytes') };
}

async function bench(options: BenchOptions, work: string, servers: ChildServer[], clients: BenchClient[]) {
  const cpu: Partial<Record<Operation, Comparison>> = {};
  /** Measures on each target in turn; the result is whole once both sides have run (create runs them apart). */
  const compare = async (operation: Operation, label: string, targets: Target[], measure: (client: BenchClient) => Promise<Figures>): Promise<Comparison> => {
    const result: Partial<Comparison> = {};
    for (const target of targets) {
      progress(`${label}: ${target.side}`);
      const { figures, cpuMsPerRequest } = await measureOn(target, measure);
      result[target.side] = figures;
      cpu[operation] = { ...cpu[operation], [target.side]: { cpuMsPerRequest } } as Comparison;
    }
    return result as Comparison;
  };

  const strongroomServer = await startStrongroom(join(work, 'data'), join(work, 'strongroom.log'));
  servers.push(strongroomServer);
  const rssStartMiB = strongroomServer.residentMiB();
  const strongroomClient = new BenchClient(strongroomServer.url, strongroomServer.credentials, options.concurrency);
  clients.push(strongroomClient);
  const strongroom: Target = { side: 'strongroom', server: strongroomServer, client: strongroomClient };
  const heapStart = await heapMiB(strongroomClient);

  const seeded = await compare('create', `seeding ${options.objects} databases (create)`, [strongroom], (c) => measureCreate(c, options.objects, options.concurrency));
  const rssSeededMiB = strongroomServer.residentMiB();
  const heapSeeded = await heapMiB(strongroomClient);

  progress('capturing strongroom answers for the bare server');
  const watched = objectName(0);
  writeFixtures(join(work, 'fixtures'), await captureFixtures(strongroomClient, options.objects, options.pageSize, watched));
  const bareServer = await startBareServer(join(work, 'data', 'pki'), join(work, 'fixtures'), join(work, 'bare.log'));
  servers.push(bareServer);
  const bareClient = new BenchClient(bareServer.url, strongroomServer.credentials, options.concurrency);
  clients.push(bareClient);
  const bare: Target = { side: 'bare', server: bareServer, client: bareClient };
  const both = [strongroom, bare];

  const create = { ...seeded, ...(await compare('create', 'create', [bare], (c) => measureCreate(c, options.objects, options.concurrency))) };
  const durationMs = options.durationSeconds * 1000;
  const getPath = `${COLLECTION}/${objectName(Math.floor(options.objects / 2))}`;
  const get = await compare('get', 'GET one', both, (c) => measureGet(c, getPath, options.concurrency, durationMs));
  const listWhole = await compare('listWhole', 'LIST whole', both, (c) => measureListWhole(c, options.listRuns));
  const listPaginated = await compare('listPaginated', 'LIST paginated', both, (c) => measureListPaginated(c, options.pageSize, options.listRuns));
  const update = await compare('update', 'update', both, (c) => measureUpdate(c, options.objects, options.concurrency, durationMs));
  const bareRssMiB = bareServer.residentMiB();

  const deliveries: Partial<Record<Side, WatchDelivery>> = {};
  const watch = await compare('watch', `watch with ${options.watchers} watchers`, both, async (client) => {
    const delivery = await measureWatchDelivery(client, {
      watchers: options.watchers,
      writes: options.watchWrites,
      // The bare server ignores the resourceVersion; Strongroom must replay nothing before the timed writes.
      watchPath: watchPath(await currentResourceVersion(strongroomClient)),
      write: (k) => client.expect(200, 'PATCH', `${COLLECTION}/${watched}`, labelPatch(k, 'watch'), MERGE_PATCH),
    });
    deliveries[client === strongroomClient ? 'strongroom' : 'bare'] = delivery;
    return {
      p50Ms: percentile(delivery.deliveryMs, 0.5),
      p99Ms: percentile(delivery.deliveryMs, 0.99),
      ackMedianMs: median(delivery.ackMs),
    };
  });
  delete cpu.watch; // streams and writes mixed: no per-request cost to speak of
  const afterAck = (d: WatchDelivery | undefined): Figures =>
    d
      ? { p50Ms: percentile(d.afterAckMs, 0.5), p99Ms: percentile(d.afterAckMs, 0.99), eventBeforeAckShare: d.afterAckMs.filter((ms) => ms < 0).length / d.afterAckMs.length }
      : {};

  const memory: Comparison = {
    strongroom: {
      rssStartMiB,
      rssSeededMiB,
      perTenThousandObjectsMiB: ((rssSeededMiB - rssStartMiB) * 10_000) / options.objects,
    },
    bare: { rssMiB: bareRssMiB },
  };
  const results: Record<Operation, Comparison> = { get, listWhole, listPaginated, create, update, watch, memory };
  const diagnostics: Diagnostics = {
    watchAfterAck: { strongroom: afterAck(deliveries.strongroom), bare: afterAck(deliveries.bare) },
    serverCpuMsPerRequest: cpu,
    strongroomHeap: { start: heapStart, seeded: heapSeeded },
  };
  return newReport(options, results, diagnostics);
}

async function controllerMain(args: string[]): Promise<void> {
  let options: ReturnType<typeof parseControllerOptions>;
  try {
    options = parseControllerOptions(args);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${CONTROLLER_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  // Through process.exit, so the control plane's exit hook stops its processes (a signal's default action would not).
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  const report = await runControllerBench(options);
  const out = resolve(options.out);
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${renderControllerTable(report)}\n\nNode ${report.node}; JSON in ${out}\n`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--controller')) return controllerMain(process.argv.slice(2));
  if (process.argv.includes('--backup')) return (await import('./backup.ts')).backupMain(process.argv.slice(2));
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'strongroom-bench-'));
  const servers: ChildServer[] = [];
  const clients: BenchClient[] = [];
  let succeeded = false;
  try {
    const report = await bench(options, work, servers, clients);
    const out = resolve(options.out);
    writeReport(out, report);
    process.stdout.write(`\n${renderTable(report)}\n\n${renderCpuTable(report)}\n\nNode ${report.node}, ${report.cpu.count} × ${report.cpu.model}; JSON in ${out}\n`);
    succeeded = true;
  } finally {
    for (const client of clients) client.close();
    await Promise.all(servers.map((server) => server.stop()));
    // The servers' logs stay behind when something failed.
    if (succeeded) rmSync(work, { recursive: true, force: true });
    else process.stderr.write(`[bench] logs kept in ${work}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
