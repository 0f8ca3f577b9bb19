// Runs the benchmark with tiny sizes, so it cannot rot unnoticed: every figure must come out a finite positive number.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { OPERATIONS, type BenchReport } from './report.ts';

const run = promisify(execFile);
const RUN_TS = fileURLToPath(new URL('./run.ts', import.meta.url));

describe('npm run bench', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-bench-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every operation on both servers and writes the table and the JSON', async () => {
    const out = join(dir, 'results.json');
    const args = ['--objects', '200', '--watchers', '20', '--duration', '1', '--watch-writes', '5', '--list-runs', '2', '--page-size', '50', '--out', out];
    const { stdout } = await run(process.execPath, [RUN_TS, ...args], { timeout: 180_000 });
    assert.match(stdout, /\| operation +\| strongroom \| bare node \| ratio \|/);

    const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport;
    assert.equal(report.parameters.objects, 200);
    assert.deepEqual(Object.keys(report.results).sort(), [...OPERATIONS].sort());
    for (const operation of OPERATIONS) {
      for (const side of ['strongroom', 'bare'] as const) {
        const figures = Object.entries(report.results[operation][side] ?? {});
        assert.ok(figures.length > 0, `${operation} has no ${side} figures`);
        for (const [name, value] of figures) {
          assert.ok(Number.isFinite(value) && value > 0, `${operation}.${side}.${name} = ${value}`);
        }
      }
    }
    assert.equal(report.results.listPaginated.strongroom['pages'], 4);
    assert.equal(report.results.listPaginated.bare['pages'], 4);
  });

  const badFlags = [
    { args: ['--objects', '0'], message: /--objects: not a positive integer/ },
    { args: ['--watchers', 'many'], message: /--watchers: not a positive integer/ },
    { args: ['--bogus'], message: /Unknown option '--bogus'/ },
  ];
  for (const { args, message } of badFlags) {
    it(`refuses ${args.join(' ')} with the usage`, async () => {
      await assert.rejects(run(process.execPath, [RUN_TS, ...args]), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, message);
        assert.match(error.stderr, /Usage: node test\/bench\/run.ts/);
        return true;
      });
    });
  }
});
