// /healthz, /livez and /readyz with the output of k8s.io/apiserver's pkg/server/healthz (checklist §9.1), so probes,
// `kubectl get --raw '/readyz?verbose'` and people read them the same way.

/** Resolves (or returns) undefined when healthy, a reason when not; throwing counts as failing too. */
export type HealthCheck = () => string | undefined | Promise<string | undefined>;

export type HealthEndpoint = 'healthz' | 'livez' | 'readyz';

export interface HealthResponse {
  status: number;
  /** Served as `text/plain; charset=utf-8` with `X-Content-Type-Options: nosniff`. */
  body: string;
}

export interface HealthOptions {
  /**
   * Flushes buffered log output; the `log` check fails while a flush has been pending for two minutes (upstream's
   * "logging blocked"). Without it `log` always passes: a logger that writes synchronously cannot fall behind without
   * also stalling the request that asks.
   */
  flushLog?: () => Promise<void>;
  /** Where the reasons withheld from the response go. */
  onFailure?: (failure: { endpoint: HealthEndpoint; check: string; reason: string }) => void;
  /** Milliseconds clock; tests replace it. */
  now?: () => number;
}

interface NamedCheck {
  name: string;
  check: HealthCheck;
  endpoints: readonly HealthEndpoint[];
}

const ALL_ENDPOINTS: readonly HealthEndpoint[] = ['healthz', 'livez', 'readyz'];
const LOG_BLOCKED_AFTER_MS = 2 * 60_000;
const HEALTH_PATH = /^\/(healthz|livez|readyz)(?:\/([^/]+))?\/?$/;

/**
 * The registry of named checks. Built in, as upstream: `ping` and `log` on every endpoint, and `shutdown` — always
 * last — on /readyz, failing once startShutdown() is called so load balancers drain the server before it stops.
 */
export class HealthChecks {
  readonly #checks: NamedCheck[] = [];
  readonly #onFailure: HealthOptions['onFailure'];
  #shuttingDown = false;

  constructor(options: HealthOptions = {}) {
    this.#onFailure = options.onFailure;
    this.addHealthCheck('ping', () => undefined);
    this.addHealthCheck('log', logCheck(options.flushLog, options.now ?? Date.now));
  }

  /** A check on /healthz, /livez and /readyz: failing it means the process should be restarted. */
  addHealthCheck(name: string, check: HealthCheck): void {
    this.#add({ name, check, endpoints: ALL_ENDPOINTS });
  }

  /** A check on /readyz only: failing it means "send me no traffic yet" (storage loading, caches syncing). */
  addReadyCheck(name: string, check: HealthCheck): void {
    this.#add({ name, check, endpoints: ['readyz'] });
  }

  startShutdown(): void {
    this.#shuttingDown = true;
  }

  /**
   * Answers `/<endpoint>`, `/<endpoint>?verbose`, `?exclude=<check>` (repeatable) and `/<endpoint>/<check>`; other
   * paths (an unknown check, `/healthz/..`) are not health paths: undefined, for the API's 404 Status, as
   * kube-apiserver registers each check's path exactly and answers the rest with its NotFound handler.
   */
  async serve(path: string, query: URLSearchParams): Promise<HealthResponse | undefined> {
    const match = HEALTH_PATH.exec(path);
    if (!match) return undefined;
    const endpoint = match[1] as HealthEndpoint;
    const checks = this.#checksOf(endpoint);
    if (match[2] !== undefined) {
      const single = checks.find((c) => c.name === match[2]);
      if (!single) return undefined;
      // Upstream prints the reason here; it withholds it on the root path because that one is public. Ours are all
      // public (kubelet probes, DEFAULT_ALWAYS_ALLOW_PATHS), so the reason only goes to onFailure.
      const reason = await this.#run(endpoint, single);
      return reason === undefined ? { status: 200, body: 'ok' } : { status: 500, body: 'internal server error: reason withheld\n' };
    }

    const excluded = new Set(query.getAll('exclude'));
    const unmatched = new Set(excluded);
    let lines = '';
    let failed = false;
    for (const check of checks) {
      if (excluded.has(check.name)) {
        unmatched.delete(check.name);
        lines += `[+]${check.name} excluded: ok\n`;
      } else if ((await this.#run(endpoint, check)) === undefined) {
        lines += `[+]${check.name} ok\n`;
      } else {
        failed = true;
        lines += `[-]${check.name} failed: reason withheld\n`;
      }
    }
    if (unmatched.size > 0) {
      const names = [...unmatched].sort().map((name) => JSON.stringify(name));
      lines += `warn: some health checks cannot be excluded: no matches for ${names.join(',')}\n`;
    }
    // Failures are always verbose; success is a bare `ok` unless asked.
    if (failed) return { status: 500, body: `${lines}${endpoint} check failed\n` };
    if (!query.has('verbose')) return { status: 200, body: 'ok' };
    return { status: 200, body: `${lines}${endpoint} check passed\n` };
  }

  #add(check: NamedCheck): void {
    if (check.name === SHUTDOWN || this.#checks.some((c) => c.name === check.name)) {
      throw new Error(`health check "${check.name}" is already registered`);
    }
    this.#checks.push(check);
  }

  #checksOf(endpoint: HealthEndpoint): NamedCheck[] {
    const checks = this.#checks.filter((c) => c.endpoints.includes(endpoint));
    if (endpoint === 'readyz') {
      checks.push({ name: SHUTDOWN, endpoints: ['readyz'], check: () => (this.#shuttingDown ? 'process is shutting down' : undefined) });
    }
    return checks;
  }

  /** The failure reason, or undefined when the check passed. */
  async #run(endpoint: HealthEndpoint, { name, check }: NamedCheck): Promise<string | undefined> {
    let reason: string | undefined;
    try {
      reason = await check();
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
    if (reason !== undefined) this.#onFailure?.({ endpoint, check: name, reason });
    return reason;
  }
}

const SHUTDOWN = 'shutdown';

/** Starts a flush when none is pending and fails while one has been pending too long, or when the last one failed. */
function logCheck(flush: (() => Promise<void>) | undefined, now: () => number): HealthCheck {
  if (!flush) return () => undefined;
  let pendingSince: number | undefined;
  let lastError: unknown;
  return () => {
    if (pendingSince === undefined) {
      pendingSince = now();
      flush().then(
        () => {
          pendingSince = undefined;
          lastError = undefined;
        },
        (error: unknown) => {
          pendingSince = undefined;
          lastError = error;
        },
      );
    }
    if (now() - pendingSince >= LOG_BLOCKED_AFTER_MS) return 'logging blocked';
    if (lastError !== undefined) return `flushing the log failed: ${String(lastError)}`;
    return undefined;
  };
}
