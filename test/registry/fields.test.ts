import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFieldSelector, requiredName } from '../../src/registry/fields.ts';

const EXTRA = ['spec.engine', 'status.phase'];

describe('parseFieldSelector', () => {
  const valid: [string, [string, '=' | '!=', string][]][] = [
    ['', []],
    ['metadata.name=orders', [['metadata.name', '=', 'orders']]],
    ['metadata.name==orders', [['metadata.name', '=', 'orders']]],
    ['metadata.namespace!=default', [['metadata.namespace', '!=', 'default']]],
    // Terms are sorted; empty terms are skipped.
    [
      'spec.engine=redis,,metadata.name=a',
      [
        ['metadata.name', '=', 'a'],
        ['spec.engine', '=', 'redis'],
      ],
    ],
    ['metadata.name=', [['metadata.name', '=', '']]],
    // Escapes, as apimachinery's fields.EscapeValue writes them.
    ['metadata.name=a\\,b\\=c\\\\d', [['metadata.name', '=', 'a,b=c\\d']]],
    // The first operator wins: "!=" before "=" at the same position.
    ['metadata.name!=a=b'.replace('a=b', 'a\\=b'), [['metadata.name', '!=', 'a=b']]],
  ];
  for (const [input, expected] of valid) {
    it(`parses ${JSON.stringify(input)}`, () => {
      assert.deepEqual(
        parseFieldSelector(input, EXTRA).requirements.map((r) => [r.field, r.operator, r.value]),
        expected,
      );
    });
  }

  const invalid: [string, string][] = [
    ['metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    // Syntax is checked before fields, so the unknown field "a" is not what is reported.
    ['a=b,metadata.name', "invalid selector: 'a=b,metadata.name'; can't understand 'metadata.name'"],
    ['metadata.name=a=b', 'invalid field selector: unescaped character in value: 61'],
    ['metadata.name=a\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['metadata.name=a\\', 'invalid field selector: invalid escape sequence: \\'],
    ['spec.nodeName=x', '"spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.engine", "status.phase"'],
    // Whitespace is not trimmed upstream either.
    [' metadata.name=x', '" metadata.name" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.engine", "status.phase"'],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input)} with 400`, () => {
      assert.throws(() => parseFieldSelector(input, EXTRA), { code: 400, reason: 'BadRequest', message });
    });
  }

  it('allows only metadata.name and metadata.namespace without selectable fields', () => {
    assert.throws(() => parseFieldSelector('spec.engine=redis'), {
      code: 400,
      message: '"spec.engine" is not a known field selector: only "metadata.name", "metadata.namespace"',
    });
  });
});

describe('FieldSelector.matches', () => {
  const fields = { 'metadata.name': 'orders', 'metadata.namespace': 'shop', 'spec.engine': 'postgres', 'status.phase': undefined };
  const cases: [string, boolean][] = [
    ['', true],
    ['metadata.name=orders', true],
    ['metadata.name=other', false],
    ['metadata.name!=other', true],
    ['metadata.name=orders,metadata.namespace=shop', true],
    ['metadata.name=orders,metadata.namespace=default', false],
    // An absent field reads as "".
    ['status.phase=', true],
    ['status.phase!=Ready', true],
    ['status.phase=Ready', false],
  ];
  for (const [selector, expected] of cases) {
    it(`${JSON.stringify(selector)} → ${expected}`, () => {
      assert.equal(parseFieldSelector(selector, EXTRA).matches(fields), expected);
    });
  }
});

describe('requiredName', () => {
  const cases: [string, string | undefined][] = [
    ['', undefined],
    ['metadata.name=orders', 'orders'],
    ['metadata.name==orders,metadata.namespace=shop', 'orders'],
    ['metadata.name!=orders', undefined],
    ['metadata.namespace=shop', undefined],
  ];
  for (const [selector, expected] of cases) {
    it(`${JSON.stringify(selector)} → ${String(expected)}`, () => {
      assert.equal(requiredName(parseFieldSelector(selector)), expected);
    });
  }
});
