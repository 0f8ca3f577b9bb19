// Kubernetes Events (events.k8s.io/v1) about the objects the controller acts on, so `kubectl describe database` and
// `kubectl events` show what Strongroom did and why. Like client-go's event recorder:
// - recording never fails a reconcile: an Event is a best-effort report, and errors are only logged;
// - the same event repeated (same object, type, reason and note) within the series window updates one Event's
//   `series` (count and lastObservedTime) instead of creating another, so a flapping condition cannot flood etcd.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeObject } from '../api/meta.ts';
import { isStatusError, type KubeClient } from './runtime/client.ts';
import { resourcePath, resourceTypes } from './runtime/kinds.ts';
import { microTime } from './runtime/leaderelection.ts';

export const REPORTING_CONTROLLER = 'strongroom.dev/controller';

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  type: EventType;
  /** Why, in UpperCamelCase: `Created`, `MajorUpgradeRequiresBackup`. */
  reason: string;
  /** What the controller did or failed to do, in UpperCamelCase: `Apply`, `Scale`, `Delete`. */
  action: string;
  /** A sentence for people; cut to the API's 1 kB. */
  note: string;
}

export interface EventRecorderOptions {
  client: KubeClient;
  /** `reportingInstance`: which replica acted (the leader election identity). */
  instance: string;
  logger: Logger;
  /** Repeats within this window join one series. Default 10 min. */
  seriesWindowMs?: number;
  /** Series remembered at most (the oldest is forgotten first). Default 4096. */
  maxSeries?: number;
  now?: () => Date;
}

interface Series {
  namespace: string;
  name: string;
  count: number;
  lastMs: number;
}

const MAX_NOTE = 1024;

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly instance: string;
  private readonly logger: Logger;
  private readonly seriesWindowMs: number;
  private readonly maxSeries: number;
  private readonly now: () => Date;
  /** By regarding uid, type, reason and note; Map order is insertion order, which makes it an LRU. */
  private readonly series = new Map<string, Series>();

  constructor(options: EventRecorderOptions) {
    this.client = options.client;
    this.instance = options.instance;
    this.logger = options.logger;
    this.seriesWindowMs = options.seriesWindowMs ?? 600_000;
    this.maxSeries = options.maxSeries ?? 4096;
    this.now = options.now ?? (() => new Date());
  }

  /** Records an event about `regarding` (which must carry its uid); resolves when written or given up. */
  async record(regarding: KubeObject, input: EventInput): Promise<void> {
    const { namespace, name, uid } = regarding.metadata;
    if (!namespace || !name || !uid) return;
    const note = input.note.length > MAX_NOTE ? `${input.note.slice(0, MAX_NOTE - 1)}…` : input.note;
    const key = `${uid}\0${input.type}\0${input.reason}\0${note}`;
    const now = this.now();
    const known = this.series.get(key);
    if (known && now.getTime() - known.lastMs < this.seriesWindowMs) {
      try {
        await this.client.request('PATCH', resourcePath(resourceTypes.Event, known.namespace, known.name), {
          body: { series: { count: known.count + 1, lastObservedTime: microTime(now) } },
          contentType: 'application/merge-patch+json',
        });
        this.remember(key, { ...known, count: known.count + 1, lastMs: now.getTime() });
        return;
      } catch (err) {
        // Gone (Events expire after an hour): the repeat starts a new Event below.
        if (!isStatusError(err, 404)) return this.failed(err, regarding, input);
      }
    }
    const event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // client-go's naming: the object's name and a unique suffix.
      metadata: { name: `${name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`, namespace },
      eventTime: microTime(now),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance.slice(0, 128),
      action: input.action,
      reason: input.reason,
      note,
      type: input.type,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        namespace,
        name,
        uid,
        resourceVersion: regarding.metadata.resourceVersion,
      },
    };
    try {
      const created = await this.client.request<KubeObject>('POST', resourcePath(resourceTypes.Event, namespace), { body: event });
      this.remember(key, { namespace, name: created.metadata.name!, count: 1, lastMs: now.getTime() });
    } catch (err) {
      this.failed(err, regarding, input);
    }
  }

  private failed(err: unknown, regarding: KubeObject, input: EventInput): void {
    const { namespace, name } = regarding.metadata;
    this.logger.warn({ err, regarding: `${namespace}/${name}`, reason: input.reason }, 'could not record an event');
  }

  /** Stores `series` as the most recently used entry, forgetting the least recently used beyond the limit. */
  private remember(key: string, series: Series): void {
    this.series.delete(key);
    this.series.set(key, series);
    if (this.series.size > this.maxSeries) this.series.delete(this.series.keys().next().value!);
  }
}
