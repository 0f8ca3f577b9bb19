import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, retry, sleep } from '../../src/util/backoff.ts';

describe('Backoff', () => {
  const cases = [
    { name: 'no jitter drawn', random: 0, expected: [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000] },
    { name: 'the most jitter drawn takes half off', random: 1, expected: [250, 500, 1000, 2000, 4000, 8000, 15000, 15000] },
  ];
  for (const { name, random, expected } of cases) {
    it(`doubles from 0.5 s to the 30 s cap (${name})`, () => {
      const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 }, () => random);
      assert.deepEqual(expected.map(() => backoff.next()), expected);
    });
  }

  it('starts over after reset', () => {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0 });
    backoff.next();
    backoff.next();
    backoff.reset();
    assert.equal(backoff.next(), 500);
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts, and at once when already aborted', async () => {
    const abort = new AbortController();
    const slept = sleep(3_600_000, abort.signal);
    abort.abort();
    await slept;
    await sleep(3_600_000, AbortSignal.abort());
  });
});

describe('Backoff factor', () => {
  it('grows by its factor, uncapped unless told', () => {
    const backoff = new Backoff({ initialMs: 500, factor: 1.5, jitter: 0 });
    assert.deepEqual([1, 2, 3, 4].map(() => backoff.next()), [500, 750, 1125, 1687.5]);
  });
});

describe('retry', () => {
  const failing = (failures: number, error: Error) => {
    let calls = 0;
    return {
      call: async () => {
        if (calls++ < failures) throw error;
        return calls;
      },
      calls: () => calls,
    };
  };
  const quick = { initialMs: 1, jitter: 0 };

  it('calls again until the call succeeds', async () => {
    const flaky = failing(2, new Error('not yet'));
    assert.equal(await retry(flaky.call, { backoff: quick, attempts: 3 }), 3);
  });

  it('throws the last error once the attempts run out', async () => {
    const broken = failing(5, new Error('down'));
    await assert.rejects(retry(broken.call, { backoff: quick, attempts: 3 }), /down/);
    assert.equal(broken.calls(), 3);
  });

  it('does not call again after a failure that is not retryable', async () => {
    const refused = failing(5, new Error('forbidden'));
    await assert.rejects(retry(refused.call, { backoff: quick, attempts: 3, retryable: () => false }), /forbidden/);
    assert.equal(refused.calls(), 1);
  });
});
