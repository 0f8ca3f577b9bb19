import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../src/api/meta.ts';
import { resyncEvents } from '../../src/storage/resync.ts';

/** `name@revision` → the object under key `/k/name` at that revision. */
function state(...entries: string[]): Map<string, KubeObject> {
  return new Map(
    entries.map((entry) => {
      const [name, revision] = entry.split('@');
      return [`/k/${name}`, { apiVersion: 'v1', kind: 'Thing', metadata: { name, resourceVersion: revision } }];
    }),
  );
}

describe('resyncEvents', () => {
  const cases: { name: string; held: string[]; listed: string[]; from: number; to: number; events: string[] }[] = [
    { name: 'nothing changed', held: ['a@1', 'b@2'], listed: ['a@1', 'b@2'], from: 2, to: 9, events: [] },
    {
      name: 'added and changed objects keep their own revisions, in order',
      held: ['a@1', 'b@2'],
      listed: ['a@7', 'b@2', 'c@5'],
      from: 2,
      to: 7,
      events: ['5 ADDED c', '7 MODIFIED a (was 1)'],
    },
    {
      name: 'a deletion takes the first revision no listed object holds',
      held: ['a@1', 'b@2', 'c@3'],
      listed: ['a@4', 'c@3'],
      from: 3,
      to: 5,
      events: ['4 MODIFIED a (was 1)', '5 DELETED b (was 2)'],
    },
    {
      name: 'deletions between changes, each on a revision of its own',
      held: ['a@1', 'b@2', 'c@3', 'd@4'],
      listed: ['a@5', 'e@7'],
      from: 4,
      to: 9,
      events: ['5 MODIFIED a (was 1)', '6 DELETED b (was 2)', '7 ADDED e', '8 DELETED c (was 3)', '9 DELETED d (was 4)'],
    },
    {
      name: 'a key deleted and created again reads as changed',
      held: ['a@1'],
      listed: ['a@3'],
      from: 1,
      to: 3,
      events: ['3 MODIFIED a (was 1)'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const events = resyncEvents(state(...c.held), state(...c.listed), c.from, c.to);
      assert.deepEqual(
        events.map((e) => `${e.revision} ${e.type} ${e.object.metadata.name}${e.prevObject ? ` (was ${e.prevObject.metadata.resourceVersion})` : ''}`),
        c.events,
      );
      for (const e of events) assert.equal(e.object.metadata.resourceVersion, String(e.revision), 'an event carries its object at its revision');
    });
  }
});
