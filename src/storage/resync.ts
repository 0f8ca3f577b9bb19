// What a relist tells the watchers of a cache whose backend watch broke (its history compacted under it): the events
// that take the state they had to the state listed, as an informer's relist does.
import type { KubeObject } from '../api/meta.ts';
import type { StorageEvent } from './interface.ts';

/**
 * The events from `held` (the state at revision `from`) to `listed` (the state at revision `to`), in revision order.
 * An object added or changed since carries its own revision. A deleted key's revision is lost with the history; it
 * gets one of the revisions in (from, to] that no listed object holds. Every write is a transaction on one key, so
 * each deletion took such a revision of its own: there are enough, and watchers still see revisions rise.
 */
export function resyncEvents(
  held: ReadonlyMap<string, KubeObject>,
  listed: ReadonlyMap<string, KubeObject>,
  from: number,
  to: number,
): StorageEvent[] {
  const events: StorageEvent[] = [];
  const taken = new Set<number>();
  for (const [key, object] of listed) {
    const before = held.get(key);
    if (before?.metadata.resourceVersion === object.metadata.resourceVersion) continue;
    const revision = Number(object.metadata.resourceVersion);
    taken.add(revision);
    events.push(before ? { type: 'MODIFIED', key, object, prevObject: before, revision } : { type: 'ADDED', key, object, revision });
  }
  let free = from;
  for (const [key, last] of held) {
    if (listed.has(key)) continue;
    do free++;
    while (taken.has(free) && free < to);
    const revision = Math.min(free, to);
    const object = { ...last, metadata: { ...last.metadata, resourceVersion: String(revision) } };
    events.push({ type: 'DELETED', key, object, prevObject: last, revision });
  }
  return events.sort((a, b) => a.revision - b.revision);
}
