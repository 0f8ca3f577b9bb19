// An informer on one type of cluster object (client-go's reflector + shared informer, kube-rs's watcher +
// reflector): list, then watch from the list's resourceVersion, keeping an ObjectCache current.
//
// Our own list+watch loop on KubeClient rather than client-node's ListWatch/makeInformer, because in 2.0.1
// (node_modules/@kubernetes/client-node/dist/cache.js) that informer stops for good on any error other than 410 or a
// client timeout, including a failed relist, a connection reset or a 5xx; it never asks for bookmarks; its listed
// objects carry `Date`s where watched ones carry strings; it lists without paging; and its update callback does not
// get the old object. This loop:
// - restarts after any error with exponential backoff and jitter (0.5 s → 30 s by default);
// - relists when the server says the resourceVersion is too old (410, as a status or as an ERROR event);
// - asks for bookmarks and restarts a watch that has been silent longer than `silenceLimitMs`: a half-dead TCP
//   connection otherwise looks like a quiet resource forever;
// - re-watches from the last resourceVersion after a failure (the apiserver replays what was missed), and lists in
//   pages.
import pino, { type Logger } from 'pino';
import type { KubeList, KubeObject } from '../../api/meta.ts';
import { Backoff, sleep, type BackoffOptions } from '../../util/backoff.ts';
import { ObjectCache } from './cache.ts';
import { isStatusError, statusError, type KubeClient, type Query, type WatchEvent } from './client.ts';
import { apiVersionOf, resourcePath, resourceTypes, type ResourceType } from './kinds.ts';

export interface ClusterInformerOptions {
  client: KubeClient;
  type: ResourceType;
  /** Watch one namespace; default all. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** A watch that has delivered nothing, not even a bookmark, for this long is presumed dead. Default 5 min. */
  silenceLimitMs?: number;
  /** Delays between restarts after errors. Default 0.5 s doubling to 30 s, jittered. */
  backoff?: BackoffOptions;
  /** Objects per list page. Default 500. */
  pageSize?: number;
  logger?: Logger;
}

/** A watch ended because it was silent too long. */
class SilentWatchError extends Error {
  constructor(ms: number) {
    super(`no event or bookmark for ${ms} ms`);
    this.name = 'SilentWatchError';
  }
}

/** How a watch that ended without a transport error ended. */
interface WatchOutcome {
  /** Where to resume; undefined when the server said the resourceVersion is too old (relist). */
  resourceVersion: string | undefined;
  /** Objects and bookmarks received (not errors). */
  events: number;
}

export class ClusterInformer<T extends KubeObject = KubeObject> extends ObjectCache<T> {
  private readonly client: KubeClient;
  private readonly type: ResourceType;
  private readonly path: string;
  private readonly selectors: Query;
  private readonly silenceLimitMs: number;
  private readonly backoff: Backoff;
  private readonly pageSize: number;
  private stopper: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(options: ClusterInformerOptions) {
    const logger = (options.logger ?? pino({ level: 'silent' })).child({
      informer: options.type.plural,
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
    });
    super({ logger });
    this.client = options.client;
    this.type = options.type;
    this.path = resourcePath(options.type, options.namespace);
    this.selectors = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector };
    this.silenceLimitMs = options.silenceLimitMs ?? 300_000;
    this.backoff = new Backoff(options.backoff ?? { initialMs: 500, maxMs: 30_000 });
    this.pageSize = options.pageSize ?? 500;
  }

  /** Starts listing and watching in the background; errors are logged and retried, never thrown. */
  start(): void {
    if (this.running) return;
    this.stopper = new AbortController();
    this.running = this.run(this.stopper.signal);
  }

  /** Ends the watch; the cache keeps its last state. */
  async stop(): Promise<void> {
    this.stopper?.abort();
    await this.running;
    this.running = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      let progress = false;
      let failure: unknown;
      try {
        if (resourceVersion === undefined) resourceVersion = await this.relist(signal);
        const outcome = await this.watch(resourceVersion, signal);
        progress = outcome.events > 0;
        resourceVersion = outcome.resourceVersion;
      } catch (err) {
        if (signal.aborted) break;
        if (isStatusError(err, 410)) resourceVersion = undefined;
        else failure = err;
      }
      // A watch that delivered something was healthy (the server ends watches at their timeout): go on at once.
      // Anything else waits, longer each time in a row: an error, a 410 before any event, a watch that closed as
      // soon as it opened. So neither a broken server nor one that keeps saying 410 can make this loop spin.
      if (progress) {
        this.backoff.reset();
        continue;
      }
      const delay = this.backoff.next();
      const retryInMs = Math.round(delay);
      const what = resourceVersion === undefined ? 'list' : 'watch';
      if (failure !== undefined) this.logger.warn({ err: failure, retryInMs }, `${what} failed`);
      else if (resourceVersion === undefined) this.logger.info({ retryInMs }, 'resourceVersion too old; relisting');
      await sleep(delay, signal);
    }
  }

  /** Lists every page and makes the cache that list; returns the list's resourceVersion. */
  private async relist(signal: AbortSignal): Promise<string> {
    const items: T[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    do {
      const page = await this.client.request<KubeList<T>>('GET', this.path, {
        query: { ...this.selectors, limit: this.pageSize, continue: token },
        signal,
      });
      // List items carry no apiVersion/kind; watch events do, and cached objects should not differ by origin.
      for (const item of page.items) items.push({ ...item, apiVersion: apiVersionOf(this.type), kind: this.type.kind });
      resourceVersion = page.metadata.resourceVersion ?? '';
      token = page.metadata.continue || undefined;
    } while (token);
    this.replace(items);
    return resourceVersion;
  }

  private async watch(resourceVersion: string, signal: AbortSignal): Promise<WatchOutcome> {
    const abort = new AbortController();
    const stop = (): void => abort.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    const watchdog = setTimeout(() => abort.abort(new SilentWatchError(this.silenceLimitMs)), this.silenceLimitMs);
    const outcome: WatchOutcome = { resourceVersion, events: 0 };
    const onEvent = (event: WatchEvent): void => {
      watchdog.refresh();
      if (event.type === 'ERROR') {
        const status = event.object as unknown as Parameters<typeof statusError>[0];
        if (status?.code === 410) outcome.resourceVersion = undefined;
        else throw statusError(status, 500);
        return;
      }
      outcome.events++;
      const obj = event.object as T;
      if (event.type === 'DELETED') this.remove(obj);
      else if (event.type !== 'BOOKMARK') this.upsert(obj);
      if (obj.metadata?.resourceVersion) outcome.resourceVersion = obj.metadata.resourceVersion;
    };
    try {
      await this.client.watch(
        this.path,
        {
          ...this.selectors,
          resourceVersion,
          allowWatchBookmarks: true,
          // Spread over 5-10 min like client-go's reflector, so informers do not all reconnect at once.
          timeoutSeconds: Math.floor(300 * (1 + Math.random())),
        },
        onEvent,
        abort.signal,
      );
      return outcome;
    } catch (err) {
      throw abort.signal.reason instanceof SilentWatchError ? abort.signal.reason : err;
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', stop);
    }
  }
}

/** The kinds of objects Strongroom creates for a Database, each watched by an informer of its own. */
export const childTypes = [
  resourceTypes.StatefulSet,
  resourceTypes.Service,
  resourceTypes.Secret,
  resourceTypes.ConfigMap,
  resourceTypes.PersistentVolumeClaim,
  resourceTypes.Job,
  resourceTypes.Pod,
  resourceTypes.PodDisruptionBudget,
  resourceTypes.NetworkPolicy,
] as const;

export type ChildKind = (typeof childTypes)[number]['kind'];

/**
 * One informer per child type, all with the same options (a label selector such as
 * `app.kubernetes.io/managed-by=strongroom` keeps the caches to Strongroom's objects). Not started.
 */
export function childInformers(options: Omit<ClusterInformerOptions, 'type'>): Record<ChildKind, ClusterInformer> {
  const informers = childTypes.map((type) => [type.kind, new ClusterInformer({ ...options, type })]);
  return Object.fromEntries(informers) as Record<ChildKind, ClusterInformer>;
}
