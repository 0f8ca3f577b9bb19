// /metrics in Prometheus text, with kube-apiserver's metric names, labels and buckets
// (k8s.io/apiserver pkg/endpoints/metrics), so dashboards and alerts written for API servers work on this one.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GROUP, VERSION } from '../api/meta.ts';

const COMPONENT = 'apiserver';

export interface RequestObservation {
  /** Kubernetes verb (`get`, `list`, `create` …) or HTTP method; reported as upstream does (`POST`, `LIST` …). */
  verb: string;
  /** `All` for dry-run requests, else empty. */
  dryRun: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  /** `resource` (named object), `namespace`, `cluster`, or empty for non-resource requests. */
  scope: string;
  code: number;
  seconds: number;
  /** Response body size. */
  bytes: number;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  collectDefault?: boolean;
}

/** Upstream reports HTTP-style verbs: creating is POST, a collection delete is DELETE. */
const REPORTED_VERBS: Record<string, string> = { CREATE: 'POST', UPDATE: 'PUT', DELETECOLLECTION: 'DELETE' };

export class Metrics {
  /** Its own registry (not prom-client's global one), so several servers can live in one process, as in tests. */
  readonly registry = new Registry();

  readonly #requests = new Counter({
    name: 'apiserver_request_total',
    help: 'Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.',
    labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'],
    registers: [this.registry],
  });
  readonly #durations = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.',
    labelNames: ['verb', 'dry_run', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
    buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60],
    registers: [this.registry],
  });
  readonly #responseSizes = new Histogram({
    name: 'apiserver_response_sizes',
    help: 'Response size distribution in bytes for each group, version, verb, resource, subresource, scope and component.',
    labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
    buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9],
    registers: [this.registry],
  });
  readonly #inflight = new Gauge({
    name: 'apiserver_current_inflight_requests',
    help: 'Number of requests currently being served, per request kind (readOnly, mutating); watches are not counted.',
    labelNames: ['request_kind'],
    registers: [this.registry],
  });
  readonly #longRunning = new Gauge({
    name: 'apiserver_longrunning_requests',
    help: 'Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.',
    labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
    registers: [this.registry],
  });
  readonly #watchEvents = new Counter({
    name: 'apiserver_watch_events_total',
    help: 'Number of events sent in watch clients',
    labelNames: ['group', 'version', 'resource'],
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    if (options.collectDefault ?? true) collectDefaultMetrics({ register: this.registry });
    // Both kinds exist from the start, so a scrape shows 0 rather than nothing.
    this.#inflight.set({ request_kind: 'readOnly' }, 0);
    this.#inflight.set({ request_kind: 'mutating' }, 0);
  }

  /** Call once per finished request (watches included, when they end). */
  observeRequest(o: RequestObservation): void {
    const upper = o.verb.toUpperCase();
    const verb = REPORTED_VERBS[upper] ?? upper;
    const resource = { group: o.group, version: o.version, resource: o.resource, subresource: o.subresource, scope: o.scope, component: COMPONENT };
    // Label objects in upstream's label order, which is the order prom-client prints them in.
    const labels = { verb, dry_run: o.dryRun, ...resource };
    this.#requests.inc({ ...labels, code: String(o.code) });
    this.#durations.observe(labels, o.seconds);
    // Upstream sizes reads only.
    if (verb === 'GET' || verb === 'LIST') this.#responseSizes.observe({ verb, ...resource }, o.bytes);
  }

  /** Counts a non-watch request as in flight; call the returned function (once is enough) when it is answered. */
  requestStarted(kind: 'readOnly' | 'mutating'): () => void {
    this.#inflight.inc({ request_kind: kind });
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inflight.dec({ request_kind: kind });
    };
  }

  watchStarted(resource = ''): void {
    this.#longRunning.inc(this.#watchLabels(resource));
  }

  watchEnded(resource = ''): void {
    this.#longRunning.dec(this.#watchLabels(resource));
  }

  watchEventSent(resource: string): void {
    this.#watchEvents.inc({ group: GROUP, version: VERSION, resource });
  }

  /** The Prometheus text exposition; serve it as `registry.contentType`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  #watchLabels(resource: string) {
    return { verb: 'WATCH', group: GROUP, version: VERSION, resource, subresource: '', scope: '', component: COMPONENT };
  }
}
