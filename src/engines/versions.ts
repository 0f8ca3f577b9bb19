// Engine versions: which major a version belongs to, and the order of majors. The API checks versions against the
// same rules (src/api/engine-spec.ts), so what it admits is what the engines render.
import type { SpecRules } from './engine.ts';

export type VersionRules = Pick<SpecRules, 'majors' | 'versionPattern'>;

/** The major of `version` ("17.2" → "17", "7.2.5" → "7.2"), or undefined when the syntax is wrong. */
export function majorOf(rules: VersionRules, version: string): string | undefined {
  return rules.versionPattern.exec(version)?.[1];
}

/** The major of `version` when it is a supported one. */
export function supportedMajor(rules: VersionRules, version: string): string | undefined {
  const major = majorOf(rules, version);
  return major !== undefined && rules.majors.includes(major) ? major : undefined;
}

/** Orders two majors numerically, part by part ("7.10" > "7.2"). */
export function compareMajors(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
