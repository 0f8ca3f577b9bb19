// A list+watch cache of one collection in kube-apiserver (client-go's informer), on client-node's ListWatch. ListWatch
// relists after 410 Gone and reconnects after timeouts by itself, but any other failure (a refused connection, a
// 403, a failed list) stops it for good; this wrapper restarts it with exponential backoff until stopped.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeError } from './kubeapi.ts';
import { Backoff, type BackoffOptions } from '../../util/backoff.ts';

export interface InformerOptions<T extends KubernetesObject> {
  /** Names the informer in log lines. */
  name: string;
  /** The collection's path, e.g. `/api/v1/namespaces`. */
  path: string;
  /** Lists the collection, with the same field selector as the watch. */
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  logger: Logger;
}

/** First and longest delay before restarting after a failure: ListWatch's own reconnect delays. */
const RESTART_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000 };

export interface Informer<T> {
  get(name: string, namespace?: string): T | undefined;
  /** True from the first complete list on (client-go's HasSynced): the cache then reflects the collection. */
  hasSynced(): boolean;
  /** Called for every object added or changed, once the cache holds it. */
  onChange(listener: (object: T) => void): void;
  stop(): Promise<void>;
}

export function startInformer<T extends KubernetesObject>(kubeConfig: KubeConfig, options: InformerOptions<T>): Informer<T> {
  const backoff = new Backoff(RESTART_BACKOFF);
  const logger = options.logger.child({ informer: options.name });
  let restart: NodeJS.Timeout | undefined;
  let stopped = false;
  let synced = false;

  const list = async () => {
    const result = await options.list();
    backoff.reset(); // the cluster answers again: the next failure starts the backoff afresh
    return result;
  };
  const listWatch = new ListWatch<T>(options.path, new Watch(kubeConfig), list, false, undefined, options.fieldSelector);
  const run = () => {
    listWatch.start().catch(failed);
  };
  const failed = (error: unknown) => {
    // Stopping aborts the watch, which ListWatch reports as an error too.
    if (stopped) return;
    const delay = backoff.next();
    logger.warn({ error: describeError(error), retryInMs: delay }, 'list/watch failed; restarting');
    clearTimeout(restart);
    restart = setTimeout(run, delay);
  };
  listWatch.on('error', failed);
  run();

  return {
    get: (name, namespace) => listWatch.get(name, namespace),
    hasSynced: () => (synced ||= listWatch.latestResourceVersion() !== ''),
    onChange(listener) {
      listWatch.on('add', listener);
      listWatch.on('update', listener);
    },
    async stop() {
      stopped = true;
      clearTimeout(restart);
      await listWatch.stop();
    },
  };
}
