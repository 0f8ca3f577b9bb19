import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isQuantity, parseQuantity } from '../../src/api/quantity.ts';

describe('quantities', () => {
  const values: [string | number, number][] = [
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['10240Mi', 10 * 2 ** 30],
    ['500m', 0.5],
    ['2', 2],
    [2, 2],
    ['1k', 1000],
    ['1e3', 1000],
    ['1.5E-3', 0.0015],
    ['.5', 0.5],
    ['-1', -1],
    ['100n', 100e-9],
  ];
  for (const [q, value] of values) {
    it(`reads ${q}`, () => {
      assert.ok(isQuantity(q));
      assert.ok(Math.abs(parseQuantity(q) - value) <= Math.abs(value) * 1e-12, `${parseQuantity(q)} != ${value}`);
    });
  }

  for (const q of ['1 Gi', '1GB', 'Gi', '', '1.2.3', 'e3', NaN, null, true]) {
    it(`refuses ${JSON.stringify(q)}`, () => {
      assert.equal(isQuantity(q), false);
      if (typeof q === 'string') assert.throws(() => parseQuantity(q), /regular expression/);
    });
  }
});
