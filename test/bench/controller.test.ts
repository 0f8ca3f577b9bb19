// Runs the controller benchmark with a handful of Databases, so it cannot rot unnoticed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import type { ControllerReport } from './controller.ts';

const run = promisify(execFile);
const RUN_TS = fileURLToPath(new URL('./run.ts', import.meta.url));

describe('npm run bench -- --controller', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-bench-controller-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('times Databases to Ready beside the floor, and writes the table and the JSON', async () => {
    const out = join(dir, 'controller.json');
    const { stdout } = await run(process.execPath, [RUN_TS, '--controller', '--databases', '3', '--concurrency', '2', '--out', out], { timeout: 180_000 });
    assert.match(stdout, /\| 3 postgres Databases: first create → all Ready +\| +\d+\.\d \|/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as ControllerReport;
    assert.deepEqual(report.parameters, { databases: 3, concurrency: 2, out });
    assert.equal(report.floor.objects, 3 * report.childrenPerDatabase);
    const figures = { ...report.controller, ...report.floor };
    for (const [name, value] of Object.entries(figures)) {
      if (name === 'reconcileErrors') assert.ok(value >= 0);
      else assert.ok(Number.isFinite(value) && value > 0, `${name} = ${value}`);
    }
    assert.ok(report.controller.readyP50Seconds <= report.controller.allReadySeconds);
  });

  it('refuses a bad size with the usage', async () => {
    await assert.rejects(run(process.execPath, [RUN_TS, '--controller', '--databases', '0']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /--databases: not a positive integer/);
      assert.match(error.stderr, /Usage: node test\/bench\/run.ts --controller/);
      return true;
    });
  });
});
