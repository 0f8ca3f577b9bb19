import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Compactor } from '../../src/storage/compactor.ts';
import { SqliteStorage } from '../../src/storage/sqlite.ts';

it('compacts only history that is both old enough and far enough behind the newest revision', async () => {
  const storage = SqliteStorage.open(':memory:');
  const compactor = new Compactor(storage, { keepRevisions: 3, keepMs: 1000 });
  let written = 0;
  const steps: { at: number; writes: number; horizon: number | undefined; why: string }[] = [
    { at: 0, writes: 0, horizon: undefined, why: 'nothing written' },
    { at: 500, writes: 10, horizon: undefined, why: 'no revision is a second old' },
    { at: 1000, writes: 0, horizon: undefined, why: 'the second-old revision is 0' },
    { at: 1600, writes: 10, horizon: 10, why: 'revision 10 (seen at 500) is a second old' },
    { at: 1700, writes: 1, horizon: undefined, why: 'already compacted to the newest second-old revision' },
    { at: 5000, writes: 0, horizon: 18, why: 'everything is old: keep the last 3 of 21' },
  ];
  for (const step of steps) {
    for (let i = 0; i < step.writes; i++, written++) {
      await storage.create(`/things/t${written}`, { apiVersion: 'v1', kind: 'Thing', metadata: { name: `t${written}` } });
    }
    assert.equal(await compactor.tick(step.at), step.horizon, `at ${step.at}: ${step.why}`);
    if (step.horizon !== undefined) assert.equal(storage.compactedRevision(), step.horizon);
  }
  await storage.close();
});
