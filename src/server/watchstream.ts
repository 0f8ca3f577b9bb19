// Streams a watch as chunked JSON lines, flushed per event, until the client leaves or timeoutSeconds passes.
import type { ServerResponse } from 'node:http';
import type { KubeObject, Status } from '../api/meta.ts';
import type { ListOptions } from '../registry/options.ts';
import type { IncludeObject } from '../registry/table.ts';
import { startWatch, type WatchEventType, type WatchSettings } from '../registry/watch.ts';
import type { ResourceStore } from '../registry/store.ts';
import type { Metrics } from './metrics.ts';
import type { Representation } from './negotiation.ts';
import { encodeWatchEvent, renderWatchObject } from './render.ts';

/** Without timeoutSeconds a watch lasts a random 30–60 minutes, like kube-apiserver's default, so load spreads. */
function defaultTimeoutSeconds(): number {
  return 1800 + Math.floor(Math.random() * 1800);
}

export async function serveWatch(
  res: ServerResponse,
  store: ResourceStore,
  namespace: string | undefined,
  options: ListOptions,
  rep: Representation,
  includeObject: IncludeObject,
  settings: WatchSettings,
  metrics: Metrics,
): Promise<void> {
  let first = true;
  let ended = false;
  const pending: Buffer[] = [];
  let started = false;
  const write = (type: WatchEventType, object: KubeObject | Status) => {
    if (ended) return;
    const line = encodeWatchEvent(type, renderWatchObject(store.def, type, object, rep, includeObject, first));
    if (type !== 'BOOKMARK' && type !== 'ERROR') first = false;
    metrics.watchEventSent(store.def.plural);
    if (started) res.write(line);
    else pending.push(line);
  };
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const end = () => {
    if (ended) return;
    ended = true;
    if (started && !res.writableEnded) res.end();
    finish();
  };
  // Errors before the first event (bad selector, too large resourceVersion) still answer as a plain Status.
  const watcher = await startWatch(store, namespace, options, { send: write, end }, settings);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'X-Content-Type-Options': 'nosniff' });
  res.flushHeaders();
  started = true;
  for (const line of pending.splice(0)) res.write(line);
  if (ended) res.end();
  const timer = setTimeout(end, (options.timeoutSeconds ?? defaultTimeoutSeconds()) * 1000);
  res.on('close', end);
  metrics.watchStarted(store.def.plural);
  try {
    await done;
  } finally {
    clearTimeout(timer);
    watcher.stop();
    metrics.watchEnded(store.def.plural);
  }
}
