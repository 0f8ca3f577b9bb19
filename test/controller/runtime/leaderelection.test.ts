import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeConfigClient } from '../../../src/controller/runtime/client.ts';
import { resourcePath, resourceTypes } from '../../../src/controller/runtime/kinds.ts';
import {
  LeaderElector,
  mayAcquire,
  microTime,
  nextLeaseSpec,
  observe,
  type Lease,
  type LeaderElectionOptions,
} from '../../../src/controller/runtime/leaderelection.ts';
import { eventually, startTestCluster, type TestCluster } from './cluster.ts';

describe('leader election rules', () => {
  const held = { holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 3 };

  it('lets a candidate take a lease nobody holds, its own, or one unchanged for the lease duration', () => {
    const cases = [
      { name: 'held and fresh', spec: held, seenAt: 1000, now: 15_999, expected: false },
      { name: 'held and expired', spec: held, seenAt: 1000, now: 16_000, expected: true },
      { name: 'released', spec: { ...held, holderIdentity: '' }, seenAt: 1000, now: 1000, expected: true },
      { name: 'never held', spec: {}, seenAt: 1000, now: 1000, expected: true },
      { name: 'own', spec: { ...held, holderIdentity: 'me' }, seenAt: 1000, now: 1000, expected: true },
    ];
    for (const { name, spec, seenAt, now, expected } of cases) {
      assert.equal(mayAcquire(observe(undefined, spec, seenAt), 'me', now), expected, name);
    }
  });

  it("measures expiry from when the record last changed, on the candidate's clock, not from renewTime", () => {
    const first = observe(undefined, held, 1000);
    assert.equal(observe(first, { ...held }, 9000), first, 'the same record keeps its first sighting');
    const renewed = observe(first, { ...held, renewTime: '2026-01-01T00:00:02.000000Z' }, 9000);
    assert.equal(renewed.at, 9000);
    assert.equal(mayAcquire(renewed, 'me', 16_000), false, 'the renewal restarted the clock');
  });

  it('keeps acquireTime and transitions on renewal, and counts a transition on takeover', () => {
    const now = new Date('2026-03-04T05:06:07.891Z');
    assert.deepEqual(nextLeaseSpec(undefined, 'me', 15, now), {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: '2026-03-04T05:06:07.891000Z',
      renewTime: '2026-03-04T05:06:07.891000Z',
      leaseTransitions: 0,
    });
    const mine = { ...held, holderIdentity: 'me', acquireTime: '2026-01-01T00:00:00.000000Z' };
    assert.deepEqual(nextLeaseSpec(mine, 'me', 15, now), { ...mine, renewTime: '2026-03-04T05:06:07.891000Z' });
    const taken = nextLeaseSpec(held, 'me', 15, now);
    assert.equal(taken.leaseTransitions, 4);
    assert.equal(taken.acquireTime, '2026-03-04T05:06:07.891000Z');
  });

  it('writes MicroTime with six fractional digits', () => {
    assert.equal(microTime(new Date('2026-01-02T03:04:05.006Z')), '2026-01-02T03:04:05.006000Z');
  });

  it('refuses timings that could let two leaders overlap', () => {
    const base = { client: {} as KubeConfigClient, namespace: 'ns', name: 'l', onStartedLeading: () => {} };
    assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /greater than renewDeadline/);
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 }), /1.2/);
    assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 500 }), /whole number/);
  });
});

interface Candidate {
  elector: LeaderElector;
  /** Each term's signal, in order. */
  terms: AbortSignal[];
  stoppedLeading: number;
}

describe('LeaderElector on a real control plane', () => {
  let cluster: TestCluster;
  let admin: KubeConfigClient;
  let namespace: string;
  const electors: LeaderElector[] = [];

  before(async () => {
    cluster = await startTestCluster();
    admin = cluster.client();
    namespace = await cluster.namespace('election-test');
  });

  after(async () => {
    await Promise.all(electors.map((elector) => elector.stop()));
    await cluster?.stop();
  });

  const readLease = (name: string) => admin.request<Lease>('GET', resourcePath(resourceTypes.Lease, namespace, name));

  /** Short timings keep the tests quick; the rules are the same as with the defaults. */
  function candidate(name: string, identity: string, options: Partial<LeaderElectionOptions> = {}): Candidate {
    const result: Candidate = { elector: undefined as unknown as LeaderElector, terms: [], stoppedLeading: 0 };
    result.elector = new LeaderElector({
      client: cluster.client(),
      namespace,
      name,
      identity,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 250,
      onStartedLeading: (signal) => {
        result.terms.push(signal);
      },
      onStoppedLeading: () => result.stoppedLeading++,
      ...options,
    });
    electors.push(result.elector);
    result.elector.start();
    return result;
  }

  it('elects exactly one of two candidates, and the other takes over after the leader dies uncleanly', async () => {
    const a = candidate('unclean', 'a', { releaseOnCancel: false });
    await eventually('a leads', () => a.elector.isLeader());
    const b = candidate('unclean', 'b', { releaseOnCancel: false });
    await eventually('b has seen the lease', () => b.elector.leader() === 'a');
    assert.equal(b.elector.isLeader(), false);
    assert.equal(b.terms.length, 0);

    const beforeDeath = await readLease('unclean');
    await a.elector.stop(); // stops renewing and, with releaseOnCancel off, leaves the lease as a crash would
    assert.equal(a.terms[0].aborted, true);
    assert.equal(a.stoppedLeading, 1);
    const lastRenewal = (await readLease('unclean')).spec!;
    assert.equal(lastRenewal.holderIdentity, 'a', 'not released');

    await eventually('b takes over', () => b.elector.isLeader(), 15_000);
    const taken = (await readLease('unclean')).spec!;
    assert.equal(taken.holderIdentity, 'b');
    assert.equal(taken.leaseTransitions, (beforeDeath.spec!.leaseTransitions ?? 0) + 1);
    // Safety: b waited out the whole lease after a's last renewal (both clocks are this host's).
    const waitedMs = Date.parse(taken.acquireTime!) - Date.parse(lastRenewal.renewTime!);
    assert.ok(waitedMs >= 3000, `b took over ${waitedMs} ms after a's last renewal`);
    console.log(`[election] takeover ${waitedMs} ms after the last renewal (lease 3000 ms)`);
  });

  it('hands over at once on a clean stop, by releasing the lease', async () => {
    // A lease far longer than the test's patience: only a release can explain a takeover.
    const timings = { leaseDurationMs: 60_000, renewDeadlineMs: 2000, retryPeriodMs: 250 };
    let working = false;
    let stoppedWhileWorking = false;
    const a = candidate('clean', 'a', {
      ...timings,
      onStartedLeading: async (signal) => {
        working = true;
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        await new Promise((resolve) => setTimeout(resolve, 300)); // winding down
        working = false;
      },
    });
    await eventually('a leads', () => a.elector.isLeader());
    const b = candidate('clean', 'b', {
      ...timings,
      onStartedLeading: () => {
        stoppedWhileWorking ||= working;
      },
    });
    await eventually('b has seen the lease', () => b.elector.leader() === 'a');
    const stopped = Date.now();
    await a.elector.stop();
    const released = (await readLease('clean')).spec!;
    assert.ok(released.holderIdentity === '' || released.holderIdentity === 'b', `holder ${released.holderIdentity}`);
    await eventually('b takes over', () => b.elector.isLeader(), 10_000);
    assert.equal(stoppedWhileWorking, false, "b started only after a's work had stopped");
    const acquired = Date.parse((await readLease('clean')).spec!.acquireTime!);
    assert.ok(acquired - stopped < timings.leaseDurationMs, 'taken over before the lease could have expired');
    console.log(`[election] clean hand-over in ${acquired - stopped} ms`);
  });

  it('stops the work when the lease is lost, and contends again', async () => {
    const a = candidate('stolen', 'a');
    await eventually('a leads', () => a.elector.isLeader());
    const path = resourcePath(resourceTypes.Lease, namespace, 'stolen');
    // Another holder writes a valid lease over a's (as a partitioned-off leader would find on its return).
    const lease = await readLease('stolen');
    const intruder = { ...lease.spec, holderIdentity: 'intruder', leaseDurationSeconds: 4, renewTime: microTime(new Date()) };
    await admin.request('PUT', path, { body: { ...lease, spec: intruder } });
    await eventually('a gives up leading', () => !a.elector.isLeader());
    assert.equal(a.terms[0].aborted, true);
    assert.equal(a.stoppedLeading, 1);
    assert.equal(a.elector.leader(), 'intruder');
    assert.equal((await readLease('stolen')).spec!.holderIdentity, 'intruder', 'a did not take it back while it was valid');
    // The intruder never renews: once its lease has run out, a leads again, in a new term.
    await eventually('a leads again', () => a.elector.isLeader(), 10_000);
    assert.equal(a.terms.length, 2);
    assert.equal(a.terms[1].aborted, false);
    assert.equal((await readLease('stolen')).spec!.leaseTransitions, (lease.spec!.leaseTransitions ?? 0) + 1);
  });
});
