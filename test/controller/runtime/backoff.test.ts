import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, sleep } from '../../../src/controller/runtime/backoff.ts';

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
