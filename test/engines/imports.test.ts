// The shape of src/engines: the API imports the engines, so the engines import src/api only for types (and the leaf
// quantity parser, which imports nothing), and no import cycle passes through an engine module.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');
/** Value imports src/engines may take from src/api: modules that import nothing of the project. */
const API_LEAVES = new Set(['api/quantity.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** The project modules a module imports at run time (type-only imports and re-exports erased). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s*from\s+'(\.[^']+)'/gms)) {
    const [, , typeOnly, clause, target] = match;
    if (typeOnly) continue;
    // `import { type A, type B } from` is erased as a whole too.
    const names = /^\{([^}]*)\}$/.exec(clause!.trim())?.[1];
    if (names !== undefined && names.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    found.push(relative(SRC, resolve(dirname(file), target!)));
  }
  return found;
}

const graph = new Map(sources(SRC).map((file) => [relative(SRC, file), valueImports(file)]));

describe('src/engines imports', () => {
  it('takes from src/api only types and leaf modules', () => {
    const offending = [...graph]
      .filter(([module]) => module.startsWith('engines/'))
      .flatMap(([module, imports]) => imports.filter((i) => i.startsWith('api/') && !API_LEAVES.has(i)).map((i) => `${module} → ${i}`));
    assert.deepEqual(offending, []);
    for (const leaf of API_LEAVES) assert.deepEqual(graph.get(leaf), [], `${leaf} imports nothing`);
  });

  it('is part of no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (module: string, path: string[]) => {
      if (state.get(module) === 'done') return;
      if (state.get(module) === 'open') {
        const cycle = [...path.slice(path.indexOf(module)), module];
        if (cycle.some((m) => m.startsWith('engines/'))) cycles.push(cycle.join(' → '));
        return;
      }
      state.set(module, 'open');
      for (const next of graph.get(module) ?? []) visit(next, [...path, module]);
      state.set(module, 'done');
    };
    for (const module of graph.keys()) visit(module, []);
    assert.deepEqual(cycles, []);
  });
});
