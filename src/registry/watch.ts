// A watch on one resource: the initial state (when asked for), then every change after a revision, filtered by
// the selectors with ADDED/DELETED on selection transitions, plus bookmarks — as the Go watch cache serves them.
import { StatusError } from '../api/errors.ts';
import type { KubeObject, Status } from '../api/meta.ts';
import { StorageError, type StorageEvent, type Watcher } from '../storage/interface.ts';
import type { ListOptions } from './options.ts';
import { parseResourceVersion } from './options.ts';
import type { ResourceStore } from './store.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchSink {
  send(type: WatchEventType, object: KubeObject | Status): void;
  /** The watch cannot go on (e.g. its revision was compacted); the stream should end after the ERROR event. */
  end(): void;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
}

export const INITIAL_EVENTS_END_ANNOTATION = 'k8s.io/initial-events-end';

export async function startWatch(
  store: ResourceStore,
  namespace: string | undefined,
  options: ListOptions,
  sink: WatchSink,
  settings: WatchSettings,
): Promise<Watcher> {
  const selector = store.selector(options);
  let lastRevision: number;
  const sendInitial = options.sendInitialEvents === true || !options.resourceVersion || options.resourceVersion === '0';
  if (sendInitial) {
    if (options.resourceVersion && options.resourceVersion !== '0') await store.waitForRevision(parseResourceVersion(options.resourceVersion));
    const { items, revision } = await store.readList(store.prefix(namespace), undefined, false);
    for (const obj of items) if (selector.matches(obj)) sink.send('ADDED', obj);
    lastRevision = revision;
    // Upstream sends the end-of-initial-events bookmark only to clients that accept bookmarks.
    if (options.sendInitialEvents && options.allowWatchBookmarks) sink.send('BOOKMARK', bookmark(store, revision, true));
  } else {
    lastRevision = parseResourceVersion(options.resourceVersion!);
    await store.waitForRevision(lastRevision);
  }

  const onEvent = (event: StorageEvent) => {
    lastRevision = event.revision;
    const now = selector.matches(event.object);
    const before = event.prevObject !== undefined && selector.matches(event.prevObject);
    if (event.type === 'ADDED') {
      if (now) sink.send('ADDED', event.object);
    } else if (event.type === 'DELETED') {
      if (before || (event.prevObject === undefined && now)) sink.send('DELETED', event.object);
    } else if (now && before) {
      sink.send('MODIFIED', event.object);
    } else if (now) {
      sink.send('ADDED', event.object);
    } else if (before) {
      sink.send('DELETED', event.object);
    }
  };

  let watcher: Watcher;
  try {
    watcher = store.storage.watch(store.prefix(namespace), lastRevision, onEvent);
  } catch (err) {
    if (err instanceof StorageError && err.code === 'Expired') {
      sink.send('ERROR', expiredStatus(lastRevision, err));
      sink.end();
      return { stop() {} };
    }
    throw err instanceof StatusError ? err : store.translate(err, '');
  }
  const timer =
    options.allowWatchBookmarks && settings.bookmarkIntervalMs > 0
      ? setInterval(() => sink.send('BOOKMARK', bookmark(store, lastRevision, false)), settings.bookmarkIntervalMs)
      : undefined;
  timer?.unref();
  return {
    stop() {
      if (timer) clearInterval(timer);
      watcher.stop();
    },
  };
}

function bookmark(store: ResourceStore, revision: number, initialEventsEnd: boolean): KubeObject {
  const metadata: KubeObject['metadata'] = { resourceVersion: String(revision) };
  if (initialEventsEnd) metadata.annotations = { [INITIAL_EVENTS_END_ANNOTATION]: 'true' };
  return { kind: store.def.kind, apiVersion: store.apiVersion, metadata };
}

function expiredStatus(revision: number, err: StorageError): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${revision} (${err.currentRevision ?? ''})`,
    reason: 'Expired',
    code: 410,
  };
}
