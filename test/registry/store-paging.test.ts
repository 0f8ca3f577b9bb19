// Paging through a list with limit and continue: every object once, in key order, whatever the page size and
// selector (the page start is found by binary search over the sorted list).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resources } from '../../src/api/resources.ts';
import { parseListOptions } from '../../src/registry/options.ts';
import { Registry } from '../../src/registry/registry.ts';
import type { ResourceStore } from '../../src/registry/store.ts';
import { WatchCache } from '../../src/storage/cache.ts';
import { SqliteStorage } from '../../src/storage/sqlite.ts';

const COUNT = 23;
const name = (i: number) => `db-${String(i).padStart(2, '0')}`;

describe('list pages', () => {
  let dir: string;
  let backend: SqliteStorage;
  let cache: WatchCache;
  let store: ResourceStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strongroom-paging-'));
    backend = SqliteStorage.open(join(dir, 'strongroom.db'));
    cache = new WatchCache(backend);
    await cache.ready;
    store = new Registry(resources, cache).store('databases')!;
    const options = { dryRun: false, fieldManager: 'test', fieldValidation: 'Strict' as const, user: { name: 'test', groups: [], extra: {} } };
    // Created out of order, and beside another namespace whose keys sort around these.
    for (const i of [...Array(COUNT).keys()].reverse()) {
      const body = () => ({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: name(i), labels: { odd: String(i % 2 === 1) } }, spec: { engine: 'postgres' } });
      await store.create('paging', body(), options);
      if (i % 5 === 0) await store.create(`paging-${i}`, body(), options);
    }
  });

  after(async () => {
    await cache.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const all = [...Array(COUNT).keys()].map(name);
  const cases = [
    { limit: 1, selector: '', expected: all },
    { limit: 5, selector: '', expected: all },
    { limit: 22, selector: '', expected: all },
    { limit: 23, selector: '', expected: all },
    { limit: 500, selector: '', expected: all },
    { limit: 4, selector: 'odd=true', expected: all.filter((_, i) => i % 2 === 1) },
    { limit: 3, selector: 'odd=false', expected: all.filter((_, i) => i % 2 === 0) },
  ];
  for (const { limit, selector, expected } of cases) {
    it(`returns each object once with limit=${limit}${selector ? ` and ${selector}` : ''}`, async () => {
      const seen: string[] = [];
      let token = '';
      let pages = 0;
      do {
        const query = new URLSearchParams({ limit: String(limit), ...(selector ? { labelSelector: selector } : {}), ...(token ? { continue: token } : {}) });
        const list = await store.list('paging', parseListOptions(query));
        seen.push(...list.items.map((obj) => obj.metadata.name!));
        token = list.metadata.continue ?? '';
        pages++;
      } while (token && pages <= COUNT);
      assert.deepEqual(seen, expected);
      assert.equal(pages, Math.max(1, Math.ceil(expected.length / limit)));
    });
  }
});
