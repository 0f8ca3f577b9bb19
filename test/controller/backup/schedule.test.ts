import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dueRun, nextRun, scheduledBackupName } from '../../../src/controller/backup/schedule.ts';

const t = (iso: string) => new Date(iso);

describe('schedules', () => {
  it('finds the next run in UTC, for cron expressions and macros', () => {
    for (const [schedule, after, next] of [
      ['*/15 * * * *', '2026-03-29T00:50:00Z', '2026-03-29T01:00:00Z'],
      ['30 2 * * *', '2026-03-29T02:30:00Z', '2026-03-30T02:30:00Z'],
      ['@daily', '2026-12-31T23:59:00Z', '2027-01-01T00:00:00Z'],
      ['@weekly', '2026-11-22T10:00:00Z', '2026-11-29T00:00:00Z'],
      ['0 0 * * 7', '2026-11-22T10:00:00Z', '2026-11-29T00:00:00Z'],
      ['@hourly', '2026-01-01T10:00:00Z', '2026-01-01T11:00:00Z'],
    ] as const) {
      assert.equal(nextRun(schedule, t(after)).toISOString(), t(next).toISOString(), `${schedule} after ${after}`);
    }
  });

  it('takes the run that is due, once', () => {
    assert.deepEqual(dueRun('0 * * * *', t('2026-01-01T09:00:00Z'), t('2026-01-01T10:00:30Z')), { due: t('2026-01-01T10:00:00Z'), next: t('2026-01-01T11:00:00Z') });
    assert.equal(dueRun('0 * * * *', t('2026-01-01T10:00:00Z'), t('2026-01-01T10:00:30Z')).due, undefined, 'already taken');
    assert.equal(dueRun('0 * * * *', t('2026-01-01T10:00:00Z'), t('2026-01-01T10:00:00Z')).due, undefined);
  });

  it('collapses missed runs into the latest, and skips one later than the starting deadline', () => {
    assert.deepEqual(dueRun('*/10 * * * *', t('2026-01-01T08:00:00Z'), t('2026-01-01T10:02:00Z')).due, t('2026-01-01T10:00:00Z'));
    assert.equal(dueRun('0 * * * *', t('2026-01-01T08:00:00Z'), t('2026-01-01T10:06:00Z')).due, undefined, '6 minutes late');
    assert.deepEqual(dueRun('0 * * * *', t('2026-01-01T08:00:00Z'), t('2026-01-01T10:06:00Z'), 3600).due, t('2026-01-01T10:00:00Z'));
  });

  it('names a run after its database and minute, within 63 characters', () => {
    assert.equal(scheduledBackupName('orders', t('2026-01-02T03:04:59Z')), 'orders-202601020304');
    const long = scheduledBackupName('a'.repeat(52), t('2026-01-02T03:04:00Z'));
    assert.ok(long.length <= 63);
    assert.match(long, /-202601020304$/);
  });
});
