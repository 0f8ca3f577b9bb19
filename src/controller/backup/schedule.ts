// When spec.backup.schedule fires, in UTC, like the CronJob controller: of the runs missed since the last one only the
// most recent is taken, and not at all when it is more than the starting deadline late (a controller that was down
// for a day takes one backup, now, rather than a burst, and none that would be taken hours after its time).
import { CronExpressionParser } from 'cron-parser';

const DEFAULT_STARTING_DEADLINE_SECONDS = 300;

function parse(schedule: string, currentDate: Date) {
  return CronExpressionParser.parse(schedule.trim(), { currentDate, tz: 'UTC' });
}

/** The first time strictly after `after` that `schedule` (5-field cron or a macro such as @daily, UTC) fires. */
export function nextRun(schedule: string, after: Date): Date {
  return parse(schedule, after).next().toDate();
}

/**
 * What the schedule asks for at `now`: the most recent fire time in (since, now], when there is one no more than
 * `startingDeadlineSeconds` old, and the next fire time after now. `since` is the last time it fired (or the
 * Database's creation).
 */
export function dueRun(schedule: string, since: Date, now: Date, startingDeadlineSeconds = DEFAULT_STARTING_DEADLINE_SECONDS): { due?: Date; next: Date } {
  const next = nextRun(schedule, now);
  // prev() is strictly before its current date: start a millisecond later so a run at exactly `now` counts.
  const latest = parse(schedule, new Date(now.getTime() + 1)).prev().toDate();
  const due = latest > since && now.getTime() - latest.getTime() <= startingDeadlineSeconds * 1000 ? latest : undefined;
  return due ? { due, next } : { next };
}

/** The Backup of a scheduled run: `<database>-<yyyymmddhhmm>` (UTC), so one run makes one Backup whoever asks. */
export function scheduledBackupName(database: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 12);
  return `${database.slice(0, 63 - stamp.length - 1)}-${stamp}`;
}
