// `strongroom agent tools`, which the image build runs: every registered engine's client tools on PATH, or exit 1
// naming those that are not.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { engineFor, ENGINE_NAMES } from '../../src/engines/registry.ts';
import { agent } from './agent.ts';

const dir = mkdtempSync(join(tmpdir(), 'strongroom-tools-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const everyTool = ENGINE_NAMES.flatMap((name) => engineFor(name).agentTools);

describe('agent tools', () => {
  it('lists each engine with its tools when all are on PATH', async () => {
    for (const tool of everyTool) {
      writeFileSync(join(dir, tool), '#!/bin/sh\n');
      chmodSync(join(dir, tool), 0o755);
    }
    const run = await agent(['tools'], { PATH: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(Object.keys(run.result.tools), ENGINE_NAMES);
    assert.deepEqual(run.result.tools.postgres, [...engineFor('postgres').agentTools]);
  });

  it('fails naming each missing tool and its engine', async () => {
    const run = await agent(['tools'], { PATH: join(dir, 'empty') });
    assert.equal(run.code, 1);
    for (const name of ENGINE_NAMES) for (const tool of engineFor(name).agentTools) assert.ok(run.result.error.includes(`${tool} (${name})`), tool);
  });
});
