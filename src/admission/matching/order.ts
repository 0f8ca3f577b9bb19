// The order in which upstream visits admission configurations: policies, bindings and webhook configurations sorted
// by name, and each configuration's webhooks in the order written.
import type { KubeObject } from '../../api/meta.ts';

/** Sorts objects by name, the order in which upstream visits policies, bindings and webhook configurations. */
export const byName = (x: KubeObject, y: KubeObject): number =>
  x.metadata.name! < y.metadata.name! ? -1 : x.metadata.name! > y.metadata.name! ? 1 : 0;

export function webhooksOf<W>(configurations: readonly (KubeObject & { webhooks?: W[] })[]): { configuration: string; webhook: W }[] {
  return configurations.toSorted(byName).flatMap((c) => (c.webhooks ?? []).map((webhook) => ({ configuration: c.metadata.name!, webhook })));
}
