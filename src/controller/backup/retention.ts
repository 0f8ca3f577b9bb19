// Which completed backups spec.backup.retention no longer keeps, in the manner of restic's and borg's `forget`: every
// rule keeps its own set and a backup any rule keeps stays. Backups of every trigger (Schedule, Manual, PreDelete,
// PreRestore, PreUpgrade) count alike under one policy. Only Completed backups are judged; the newest Completed one
// and held ones always stay; backups already being deleted are left out of the count.
export interface RetentionPolicy {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface RetentionCandidate {
  name: string;
  phase?: string;
  completionTime?: string;
  creationTimestamp?: string;
  hold?: boolean;
  trigger?: string;
  deleting?: boolean;
}

/** The ISO week of a UTC time, as `<week-year>-W<week>`: weeks start on Monday, and week 1 holds the first Thursday. */
function isoWeek(date: Date): string {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${week}`;
}

const BUCKETS: Array<[keyof RetentionPolicy, (date: Date) => string]> = [
  ['keepDaily', (date) => date.toISOString().slice(0, 10)],
  ['keepWeekly', isoWeek],
  ['keepMonthly', (date) => date.toISOString().slice(0, 7)],
];

/** The names of the Backups the policy removes, sorted. */
export function expiredBackups(backups: readonly RetentionCandidate[], policy: RetentionPolicy | undefined): string[] {
  const rules = Object.values(policy ?? {}).filter((n) => typeof n === 'number');
  if (rules.length === 0) return [];
  const completed = backups
    .filter((b) => b.phase === 'Completed' && !b.deleting && b.completionTime)
    .sort((a, b) => b.completionTime!.localeCompare(a.completionTime!) || b.name.localeCompare(a.name));
  const kept = new Set<string>();
  if (completed[0]) kept.add(completed[0].name);
  for (const backup of completed) if (backup.hold) kept.add(backup.name);
  for (const backup of completed.slice(0, policy?.keepLast ?? 0)) kept.add(backup.name);
  for (const [rule, bucketOf] of BUCKETS) {
    const count = policy?.[rule] ?? 0;
    const seen = new Set<string>();
    for (const backup of completed) {
      if (seen.size >= count) break;
      const bucket = bucketOf(new Date(backup.completionTime!));
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      kept.add(backup.name);
    }
  }
  return completed.filter((b) => !kept.has(b.name)).map((b) => b.name).sort();
}
