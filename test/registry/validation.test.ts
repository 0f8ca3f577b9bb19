import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDNS1123Label, isDNS1123Subdomain, isLabelValue, isQualifiedName } from '../../src/registry/validation.ts';

// Each check: values it accepts, and values it rejects with the start of each message, in order.
const checks: [string, (v: string) => string[], string[], [string, string[]][]][] = [
  [
    'isDNS1123Label',
    isDNS1123Label,
    ['a', 'ab', 'a-b', '0', '1-2', 'a'.repeat(63)],
    [
      ['', ['a lowercase RFC 1123 label must consist of']],
      ['A', ['a lowercase RFC 1123 label must consist of']],
      ['-a', ['a lowercase RFC 1123 label must consist of']],
      ['a.b', ['must not contain dots']],
      ['a'.repeat(64), ['must be no more than 63 characters']],
    ],
  ],
  [
    'isDNS1123Subdomain',
    isDNS1123Subdomain,
    ['a', 'a.b', 'a-b.c-d', 'x.'.repeat(126) + 'x'],
    [
      ['', ['a lowercase RFC 1123 subdomain must consist of']],
      ['a..b', ['a lowercase RFC 1123 subdomain must consist of']],
      ['a.', ['a lowercase RFC 1123 subdomain must consist of']],
      ['a_b', ['a lowercase RFC 1123 subdomain must consist of']],
      ['a'.repeat(254), ['must be no more than 253 characters']],
      ['A'.repeat(254), ['must be no more than 253 characters', 'a lowercase RFC 1123 subdomain']],
    ],
  ],
  [
    'isQualifiedName',
    isQualifiedName,
    ['simple', 'now-with-dashes', '1-starts-with-num', '1234', 'simple/simple', 'now.with.dots/simple', '1.2.3.4/5678', 'UpperCase123', 'a_b.c-d', 'k'.repeat(63)],
    [
      ['', ['name part must be non-empty', 'name part must consist of']],
      ['/simple', ['prefix part must be non-empty']],
      ['Example.com/x', ['prefix part a lowercase RFC 1123 subdomain must consist of']],
      ['example.com/', ['name part must be non-empty', 'name part must consist of']],
      ['only/one/slash', ['a valid label key must consist of']],
      ['cantendwithadash-', ['name part must consist of']],
      ['nospecialchars^=@', ['name part must consist of']],
      ['k'.repeat(64), ['name part must be no more than 63 bytes']],
      [`${'p'.repeat(254)}/k`, ['prefix part must be no more than 253 bytes']],
    ],
  ],
  [
    'isLabelValue',
    isLabelValue,
    ['', 'a', 'My_Value.1', 'v'.repeat(63)],
    [
      ['-a', ['a valid label must be an empty string or consist of']],
      ['a b', ['a valid label must be an empty string or consist of']],
      ['é', ['a valid label must be an empty string or consist of']],
      ['v'.repeat(64), ['must be no more than 63 bytes']],
      // 32 two-byte characters are 64 bytes: too long although only 32 characters.
      ['é'.repeat(32), ['must be no more than 63 bytes', 'a valid label must be']],
    ],
  ],
];

for (const [name, check, valid, invalid] of checks) {
  describe(name, () => {
    for (const value of valid) it(`accepts ${JSON.stringify(value.length > 40 ? `${value.slice(0, 20)}…` : value)}`, () => assert.deepEqual(check(value), []));
    for (const [value, expected] of invalid) {
      it(`rejects ${JSON.stringify(value.length > 40 ? `${value.slice(0, 20)}…` : value)}`, () => {
        const messages = check(value);
        assert.equal(messages.length, expected.length, messages.join('\n'));
        expected.forEach((e, i) => assert.ok(messages[i]!.startsWith(e), messages[i]));
      });
    }
  });
}

it('prints regex explanations exactly as apimachinery', () => {
  assert.deepEqual(isQualifiedName('a/b/c'), [
    "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
  ]);
  assert.deepEqual(isDNS1123Label('-'), [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ]);
});
