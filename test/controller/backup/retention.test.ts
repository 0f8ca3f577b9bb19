import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expiredBackups, type RetentionCandidate } from '../../../src/controller/backup/retention.ts';

/** Completed backups named by their completion time, e.g. `2026-01-05T03`. */
const completed = (...hours: string[]): RetentionCandidate[] => hours.map((h) => ({ name: h, phase: 'Completed', completionTime: `${h}:00:00Z` }));

describe('expiredBackups', () => {
  const cases: Array<{ name: string; backups: RetentionCandidate[]; policy: Parameters<typeof expiredBackups>[1]; expired: string[] }> = [
    { name: 'keeps everything without a policy', backups: completed('2026-01-01T00', '2026-01-02T00'), policy: undefined, expired: [] },
    { name: 'keeps everything with an empty policy', backups: completed('2026-01-01T00', '2026-01-02T00'), policy: {}, expired: [] },
    { name: 'keepLast keeps the newest n', backups: completed('2026-01-01T00', '2026-01-02T00', '2026-01-03T00'), policy: { keepLast: 2 }, expired: ['2026-01-01T00'] },
    { name: 'keepLast 0 still keeps the newest', backups: completed('2026-01-01T00', '2026-01-02T00'), policy: { keepLast: 0 }, expired: ['2026-01-01T00'] },
    {
      name: 'keepDaily keeps the newest of each of the last n days',
      backups: completed('2026-01-01T01', '2026-01-01T09', '2026-01-02T01', '2026-01-02T09', '2026-01-03T05'),
      policy: { keepDaily: 2 },
      expired: ['2026-01-01T01', '2026-01-01T09', '2026-01-02T01'],
    },
    {
      // 2025-12-29 (Monday) to 2026-01-04 (Sunday) is ISO week 2026-W1, across the year end.
      name: 'keepWeekly buckets by ISO week, Monday first, across a year end',
      backups: completed('2025-12-28T12', '2025-12-29T12', '2026-01-04T12', '2026-01-05T12'),
      policy: { keepWeekly: 2 },
      expired: ['2025-12-28T12', '2025-12-29T12'],
    },
    {
      name: 'keepMonthly keeps the newest of each month',
      backups: completed('2026-01-10T00', '2026-01-31T23', '2026-02-01T00', '2026-03-15T00'),
      policy: { keepMonthly: 2 },
      expired: ['2026-01-10T00', '2026-01-31T23'],
    },
    {
      name: 'a backup any rule keeps stays',
      backups: completed('2026-01-01T00', '2026-01-02T00', '2026-02-02T00', '2026-02-03T00'),
      policy: { keepLast: 1, keepMonthly: 2 },
      expired: ['2026-01-01T00', '2026-02-02T00'],
    },
    {
      name: 'held backups stay and do not count',
      backups: [{ ...completed('2026-01-01T00')[0]!, hold: true }, ...completed('2026-01-02T00', '2026-01-03T00')],
      policy: { keepLast: 1 },
      expired: ['2026-01-02T00'],
    },
    {
      name: 'only Completed backups are judged; Failed and running ones are never expired',
      backups: [...completed('2026-01-01T00', '2026-01-02T00'), { name: 'f', phase: 'Failed', completionTime: '2025-01-01T00:00:00Z' }, { name: 'r', phase: 'Running' }],
      policy: { keepLast: 1 },
      expired: ['2026-01-01T00'],
    },
    {
      name: 'backups being deleted neither count nor are returned',
      backups: [...completed('2026-01-01T00', '2026-01-02T00'), { ...completed('2026-01-03T00')[0]!, deleting: true }],
      policy: { keepLast: 1 },
      expired: ['2026-01-01T00'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(expiredBackups(c.backups, c.policy), c.expired));
});
