import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareStrings, goJSON, goNumber, goQuote } from '../../../src/registry/fieldmanager/gofmt.ts';

describe('Go formatting', () => {
  const quoted: [string, string][] = [
    ['kubectl', '"kubectl"'],
    ['say "hi"\\', '"say \\"hi\\"\\\\"'],
    ['tab\tnew\nline', '"tab\\tnew\\nline"'],
    ['\u0001\u007f', '"\\x01\\x7f"'],
    ['\u200b', '"\\u200b"'],
    ['héllo ✓', '"héllo ✓"'],
  ];
  for (const [s, want] of quoted) it(`%q of ${JSON.stringify(s)}`, () => assert.equal(goQuote(s), want));

  const numbers: [number, string][] = [
    [3, '3'],
    [-12, '-12'],
    [1.5, '1.5'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1234567.5, '1.2345675e+06'],
  ];
  for (const [n, want] of numbers) it(`%v of ${n}`, () => assert.equal(goNumber(n), want));

  it('writes JSON with sorted keys and HTML escaping, like encoding/json', () => {
    assert.equal(goJSON({ b: 1, a: '<&>', 10: true, 9: null }), '{"10":true,"9":null,"a":"\\u003c\\u0026\\u003e","b":1}');
  });

  it('orders strings by code point', () => {
    assert.equal(compareStrings('a', 'b'), -1);
    assert.equal(compareStrings('ab', 'a'), 1);
    assert.equal(compareStrings('\uffff', '😀'), -1, 'UTF-16 would put the emoji first');
  });
});
