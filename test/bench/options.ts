// The bench's sizes and where it writes, from command-line flags; small values give a quick smoke run.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Databases seeded before the reads; the create figure is the seeding rate. */
  objects: number;
  /** Concurrent watch streams for the delivery figure. */
  watchers: number;
  /** Seconds each timed load (GET, update) runs against each server. */
  durationSeconds: number;
  /** Requests in flight at once in the timed loads and the seeding. */
  concurrency: number;
  /** LIST runs per server; the median is reported. */
  listRuns: number;
  pageSize: number;
  /** Sequential writes whose events every watcher must receive. */
  watchWrites: number;
  out: string;
}

export const USAGE = `Usage: node test/bench/run.ts [--objects 10000] [--watchers 1000] [--duration 10] [--concurrency 16]
                            [--list-runs 5] [--page-size 500] [--watch-writes 20] [--out bench-results.json]
       node test/bench/run.ts --controller [--databases 200] [--concurrency 16] [--out bench-controller.json]
       node test/bench/run.ts --backup [--size-mb 1024] [--out bench-backup.json]`;

const INTEGER_FLAGS = {
  objects: ['objects', 10_000],
  watchers: ['watchers', 1000],
  duration: ['durationSeconds', 10],
  concurrency: ['concurrency', 16],
  'list-runs': ['listRuns', 5],
  'page-size': ['pageSize', 500],
  'watch-writes': ['watchWrites', 20],
} as const;

export function parseBenchOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(Object.keys(INTEGER_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      out: { type: 'string', default: 'bench-results.json' },
    },
  });
  const options: Record<string, number | string> = { out: values.out as string };
  for (const [flag, [key, fallback]] of Object.entries(INTEGER_FLAGS)) {
    const raw = values[flag as keyof typeof values];
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${flag}: not a positive integer: ${String(raw)}`);
    options[key] = value;
  }
  return options as unknown as BenchOptions;
}
