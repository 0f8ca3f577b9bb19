// The bench's output: a table for people and JSON for machines, with the same figures.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import type { BenchOptions } from './options.ts';
import type { Figures } from './scenarios.ts';

export interface Comparison {
  strongroom: Figures;
  bare: Figures;
}

export const OPERATIONS = ['get', 'listWhole', 'listPaginated', 'create', 'update', 'watch', 'memory'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface BenchReport {
  generatedAt: string;
  node: string;
  cpu: { model: string; count: number };
  parameters: BenchOptions;
  /** Every figure here is a finite positive number. */
  results: Record<Operation, Comparison>;
  diagnostics: Diagnostics;
}

/** Figures that explain the results; not all positive. */
export interface Diagnostics {
  /** ms from a write's acknowledgement to its event at each watcher; negative when the event came first. */
  watchAfterAck: Comparison;
  /**
   * Each server's CPU time (user + system, 10 ms steps) over an operation's requests, warm-ups included. Robust to
   * other load on the machine, unlike the wall-clock results.
   */
  serverCpuMsPerRequest: Partial<Record<Operation, Comparison>>;
  /** V8 heap of the Strongroom process from its /metrics, right after start and after seeding. */
  strongroomHeap: { start: Figures; seeded: Figures };
}

export function newReport(parameters: BenchOptions, results: Record<Operation, Comparison>, diagnostics: Diagnostics): BenchReport {
  return {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpu: { model: cpus()[0]?.model ?? 'unknown', count: availableParallelism() },
    parameters,
    results,
    diagnostics,
  };
}

interface Row {
  label: string;
  operation: Operation;
  figure: string;
  /** The bare server's figure when it is named differently, or null when it has none. */
  bareFigure?: string | null;
  unit: string;
  higherIsBetter: boolean;
}

function rows(p: BenchOptions): Row[] {
  return [
    { label: 'GET one object', operation: 'get', figure: 'requestsPerSecond', unit: 'req/s', higherIsBetter: true },
    { label: 'GET one object p50', operation: 'get', figure: 'p50Ms', unit: 'ms', higherIsBetter: false },
    { label: 'GET one object p99', operation: 'get', figure: 'p99Ms', unit: 'ms', higherIsBetter: false },
    { label: `LIST ${p.objects} whole (median)`, operation: 'listWhole', figure: 'medianMs', unit: 'ms', higherIsBetter: false },
    { label: `LIST ${p.objects} by limit=${p.pageSize}, all pages (median)`, operation: 'listPaginated', figure: 'medianMs', unit: 'ms', higherIsBetter: false },
    { label: 'create', operation: 'create', figure: 'requestsPerSecond', unit: 'req/s', higherIsBetter: true },
    { label: 'update (merge-patch)', operation: 'update', figure: 'requestsPerSecond', unit: 'req/s', higherIsBetter: true },
    { label: `watch: write to event at ${p.watchers} watchers p99`, operation: 'watch', figure: 'p99Ms', unit: 'ms', higherIsBetter: false },
    { label: `watch: write to event at ${p.watchers} watchers p50`, operation: 'watch', figure: 'p50Ms', unit: 'ms', higherIsBetter: false },
    { label: 'watch: write acknowledged (median)', operation: 'watch', figure: 'ackMedianMs', unit: 'ms', higherIsBetter: false },
    { label: 'resident memory after seeding', operation: 'memory', figure: 'rssSeededMiB', bareFigure: 'rssMiB', unit: 'MiB', higherIsBetter: false },
    { label: 'resident memory per 10k objects', operation: 'memory', figure: 'perTenThousandObjectsMiB', bareFigure: null, unit: 'MiB', higherIsBetter: false },
  ];
}

function format(value: number | undefined): string {
  if (value === undefined) return '—';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

/**
 * Columns: operation | strongroom | bare node | ratio. The ratio is Strongroom's cost in units of the bare server's
 * (time, memory, or 1/throughput), so 3.0 reads "three times the runtime's limit" whichever way the figure points.
 */
export function renderTable(report: BenchReport): string {
  const body = rows(report.parameters).map((row) => {
    const { strongroom, bare } = report.results[row.operation];
    const ours = strongroom[row.figure];
    const theirs = row.bareFigure === null ? undefined : bare[row.bareFigure ?? row.figure];
    const ratio = ours === undefined || theirs === undefined ? undefined : row.higherIsBetter ? theirs / ours : ours / theirs;
    return [`${row.label} (${row.unit})`, format(ours), format(theirs), ratio === undefined ? '—' : `${ratio.toFixed(1)}×`];
  });
  return alignTable([['operation', 'strongroom', 'bare node', 'ratio'], ...body]);
}

/** Server CPU per request, beside the same ratio as the main table. */
export function renderCpuTable(report: BenchReport): string {
  const body = Object.entries(report.diagnostics.serverCpuMsPerRequest).map(([operation, comparison]) => {
    const ours = comparison?.strongroom['cpuMsPerRequest'];
    const theirs = comparison?.bare['cpuMsPerRequest'];
    const ratio = ours !== undefined && theirs ? `${(ours / theirs).toFixed(1)}×` : '—';
    return [operation, format(ours), format(theirs), ratio];
  });
  return alignTable([['server CPU per request (ms)', 'strongroom', 'bare node', 'ratio'], ...body]);
}

function alignTable(table: string[][]): string {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(table[0]!), rule, ...table.slice(1).map(line)].join('\n');
}

export function writeReport(path: string, report: BenchReport): void {
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}
