// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics (tools/leaderelection): every
// replica keeps serving the API, and only the holder of the lease runs the reconcilers.
//
// - A candidate takes the lease when nobody holds it, or when the record it last saw has not changed for the
//   lease's duration. Time is measured on the candidate's own monotonic clock from when it saw the record change,
//   never by comparing its clock with the holder's `renewTime`, so clock skew between nodes cannot cause two leaders.
// - Every write carries the resourceVersion it read (a PUT), so two candidates racing for the same lease cannot both
//   win: the second gets a 409 and tries again later.
// - The leader renews every `retryPeriod`; when it has not managed to renew for `renewDeadline` (shorter than the
//   lease duration), it stops leading: the reconcilers' signal aborts before anyone else may take the lease.
// - A clean stop first stops the work, renewing meanwhile, then releases the lease (empty holder) so another replica
//   takes over at its next retry instead of after the lease duration.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { KubeObject } from '../../api/meta.ts';
import { sleep } from '../../util/backoff.ts';
import { isStatusError, type KubeClient } from './client.ts';
import { resourcePath, resourceTypes } from './kinds.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with microseconds. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** The lease record as last seen, and when (monotonic ms) it was first seen in this form. */
export interface Observation {
  spec: LeaseSpec;
  raw: string;
  at: number;
}

/** A new observation if the record changed since `previous`; otherwise `previous`, keeping its time. */
export function observe(previous: Observation | undefined, spec: LeaseSpec | undefined, now: number): Observation {
  const raw = JSON.stringify(spec ?? {});
  return previous?.raw === raw ? previous : { spec: spec ?? {}, raw, at: now };
}

/** Whether `identity` may write the lease now: it holds it, nobody does, or the holder let it expire. */
export function mayAcquire(observed: Observation, identity: string, now: number): boolean {
  const { holderIdentity, leaseDurationSeconds = 0 } = observed.spec;
  return !holderIdentity || holderIdentity === identity || observed.at + leaseDurationSeconds * 1000 <= now;
}

/** The record `identity` writes to acquire or renew: a renewal keeps acquireTime and the transition count. */
export function nextLeaseSpec(current: LeaseSpec | undefined, identity: string, leaseDurationSeconds: number, now: Date): LeaseSpec {
  const time = microTime(now);
  const renewing = current?.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewing ? current.acquireTime : time,
    renewTime: time,
    leaseTransitions: current === undefined ? 0 : (current.leaseTransitions ?? 0) + (renewing ? 0 : 1),
  };
}

/** metav1.MicroTime's wire form: `2006-01-02T15:04:05.000000Z`. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** client-go's default: the hostname and a random suffix, so two processes on one host are two candidates. */
export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** Default: `defaultIdentity()`. */
  identity?: string;
  /** How long a lease stays valid without renewal; a whole number of seconds. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it gives up leading. Default 10 s. */
  renewDeadlineMs?: number;
  /** Between attempts to acquire (jittered) or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Clear the holder on `stop()`, so another replica takes over at once. Default true. */
  releaseOnCancel?: boolean;
  /**
   * Called on becoming leader; `signal` aborts when leadership ends (lost, or `stop()`). The returned promise
   * should settle once the work has stopped: the elector waits for it before releasing or contending again.
   */
  onStartedLeading(signal: AbortSignal): Promise<void> | void;
  onStoppedLeading?(): void;
  logger?: Logger;
}

/** client-go's JitterFactor for retries while not leading. */
const JITTER = 1.2;

export class LeaderElector {
  readonly identity: string;
  private readonly options: LeaderElectionOptions;
  private readonly client: KubeClient;
  private readonly path: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly logger: Logger;
  private observed: Observation | undefined;
  private leading = false;
  private stopper: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.client = options.client;
    this.identity = options.identity ?? defaultIdentity();
    this.path = resourcePath(resourceTypes.Lease, options.namespace, options.name);
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (this.leaseDurationMs % 1000 !== 0) throw new Error('leaseDurationMs must be a whole number of seconds');
    if (this.leaseDurationMs <= this.renewDeadlineMs) throw new Error('leaseDurationMs must be greater than renewDeadlineMs');
    if (this.renewDeadlineMs <= JITTER * this.retryPeriodMs) throw new Error('renewDeadlineMs must be greater than 1.2 × retryPeriodMs');
    const logger = options.logger ?? pino({ level: 'silent' });
    this.logger = logger.child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
  }

  /** Contends for the lease in the background until `stop()`; after losing it, contends again. */
  start(): void {
    if (this.running) return;
    this.stopper = new AbortController();
    this.running = this.run(this.stopper.signal);
  }

  /** Stops leading (waiting for the work to stop) and contending; releases the lease if so configured. */
  async stop(): Promise<void> {
    this.stopper?.abort();
    await this.running;
    this.running = undefined;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder as last observed (undefined before the first read, '' after a release). */
  leader(): string | undefined {
    return this.observed?.spec.holderIdentity;
  }

  private async run(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      if (await this.tryAcquireOrRenew(stop)) await this.lead(stop);
      else await sleep(this.retryPeriodMs * (1 + Math.random() * JITTER), stop);
    }
  }

  private async lead(stop: AbortSignal): Promise<void> {
    this.leading = true;
    this.logger.info('became leader');
    const term = new AbortController();
    const renewal = new AbortController();
    const work = Promise.resolve()
      .then(() => this.options.onStartedLeading(term.signal))
      .catch((err: unknown) => this.logger.error({ err }, 'leader work failed'));
    // On stop, renewing goes on until the work has stopped, so nobody else leads while it winds down.
    const onStop = (): void => {
      term.abort();
      void work.then(() => renewal.abort());
    };
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    const lost = !(await this.renew(renewal.signal));
    stop.removeEventListener('abort', onStop);
    if (lost) this.logger.warn('failed to renew the lease within the renew deadline; stopping leading');
    term.abort();
    await work;
    this.leading = false;
    try {
      this.options.onStoppedLeading?.();
    } catch (err) {
      this.logger.error({ err }, 'onStoppedLeading failed');
    }
    if (!lost && this.options.releaseOnCancel !== false) await this.release();
  }

  /** Renews until `signal` aborts (true) or a renew deadline passes without success (false). */
  private async renew(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const deadline = performance.now() + this.renewDeadlineMs;
      let renewed = false;
      while (!signal.aborted && !renewed && performance.now() < deadline) {
        renewed = await this.tryAcquireOrRenew(signal, deadline - performance.now());
        if (!renewed) await sleep(Math.min(this.retryPeriodMs, deadline - performance.now()), signal);
      }
      if (signal.aborted) return true;
      if (!renewed) return false;
      await sleep(this.retryPeriodMs, signal);
    }
    return true;
  }

  /** One attempt: read the lease and, if this candidate may hold it, write it. False on any failure. */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs = this.renewDeadlineMs): Promise<boolean> {
    const leaseDurationSeconds = this.leaseDurationMs / 1000;
    try {
      let lease: Lease | undefined;
      try {
        lease = await this.client.request<Lease>('GET', this.path, { signal, timeoutMs });
      } catch (err) {
        if (!isStatusError(err, 404)) throw err;
      }
      if (!lease) {
        const created = await this.client.request<Lease>('POST', resourcePath(resourceTypes.Lease, this.options.namespace), {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: nextLeaseSpec(undefined, this.identity, leaseDurationSeconds, new Date()),
          },
          signal,
          timeoutMs,
        });
        this.see(created.spec);
        return true;
      }
      // Observed after the read returns: the holder's write happened before, so expiry is never judged early.
      this.see(lease.spec);
      if (!mayAcquire(this.observed!, this.identity, performance.now())) return false;
      const updated = await this.client.request<Lease>('PUT', this.path, {
        body: { ...lease, spec: nextLeaseSpec(lease.spec, this.identity, leaseDurationSeconds, new Date()) },
        signal,
        timeoutMs,
      });
      this.see(updated.spec);
      return true;
    } catch (err) {
      if (!signal.aborted) this.logger.debug({ err }, 'could not acquire or renew the lease');
      return false;
    }
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.client.request<Lease>('GET', this.path, { timeoutMs: this.renewDeadlineMs });
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime(new Date());
      const spec: LeaseSpec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      this.see((await this.client.request<Lease>('PUT', this.path, { body: { ...lease, spec }, timeoutMs: this.renewDeadlineMs })).spec);
      this.logger.info('released the lease');
    } catch (err) {
      this.logger.warn({ err }, 'could not release the lease; it expires by itself');
    }
  }

  private see(spec: LeaseSpec | undefined): void {
    const previous = this.observed;
    this.observed = observe(previous, spec, performance.now());
    if (this.observed !== previous && this.observed.spec.holderIdentity !== previous?.spec.holderIdentity) {
      this.logger.info({ leader: this.observed.spec.holderIdentity }, 'observed a new leader');
    }
  }
}
