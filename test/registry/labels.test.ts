import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../src/api/errors.ts';
import { labelSelectorToString, parseLabelSelector, selectorFromMatchLabels } from '../../src/registry/labels.ts';

describe('parseLabelSelector', () => {
  // From apimachinery's TestSelectorParse and TestSetSelectorParser: input → canonical text.
  const valid: [string, string][] = [
    ['', ''],
    ['x=a,y=b,z=c', 'x=a,y=b,z=c'],
    ['x!=a,y=b', 'x!=a,y=b'],
    ['x=', 'x='],
    ['x= ', 'x='],
    ['x=,z= ', 'x=,z='],
    ['x= ,z= ', 'x=,z='],
    ['!x', '!x'],
    ['x>1', 'x>1'],
    ['x>1,z<5', 'x>1,z<5'],
    ['\rx', 'x'],
    ['a ', 'a'],
    ['x==a', 'x==a'],
    ['this-is-a-dns.domain.com/key-with-dash', 'this-is-a-dns.domain.com/key-with-dash'],
    ['this-is-another-dns.domain.com/key-with-dash in (so,what)', 'this-is-another-dns.domain.com/key-with-dash in (so,what)'],
    ['0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)', '0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)'],
    ['foo  in\t (abc)', 'foo in (abc)'],
    ['x notin\n (abc)', 'x notin (abc)'],
    ['x  notin\t\t(abc,def)', 'x notin (abc,def)'],
    ['x in (def,abc)', 'x in (abc,def)'],
    ['x in (abc,)', 'x in (,abc)'],
    ['x in (abc,abc)', 'x in (abc)'],
    ['x in ()', 'x in ()'],
    ['x in (a,,)', 'x in (,a)'],
    ['x in (a,,,,,,)', 'x in (,a)'],
    ['x in (a,,a,,a,,a,,)', 'x in (,a)'],
    ['x notin (abc,,def),bar,z in (),w', 'bar,w,x notin (,abc,def),z in ()'],
    ['x notin ( )', 'x notin ()'],
    ['x notin (, a)', 'x notin (,a)'],
    ['a in (x,y,notin, z,in)', 'a in (in,notin,x,y,z)'],
    ['notin=in', 'notin=in'],
    ['x=a,a=x', 'a=x,x=a'],
    ['app.kubernetes.io/name=orders,!app.kubernetes.io/legacy', '!app.kubernetes.io/legacy,app.kubernetes.io/name=orders'],
  ];
  for (const [input, canonical] of valid) {
    it(`parses ${JSON.stringify(input)}`, () => {
      assert.equal(labelSelectorToString(parseLabelSelector(input)), canonical);
    });
  }

  const invalid: [string, string | RegExp][] = [
    ['x=a||y=b', /unable to parse requirement: values\[0\]\[x\]: Invalid value: "a\|\|y"/],
    ['x==a==b', "found '==', expected: ',' or 'end of string'"],
    ['!x=a', "found '=', expected: ',' or 'end of string'"],
    ['x<a', `unable to parse requirement: values[0]: Invalid value: "a": for 'Gt', 'Lt' operators, the value must be an integer`],
    ['x,,y', "found ',', expected: identifier after ','"],
    [',x,y', "found ',', expected: !, identifier, or 'end of string'"],
    ['x nott in (y)', "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"],
    ['a in (xyz),', "found '', expected: identifier after ','"],
    ['a in (xyz)b notin ()', "found 'b', expected: ',' or 'end of string'"],
    ['a in (xyz abc)', "unable to parse requirement: found 'abc', expected: ',' or ')'"],
    ['a notin(', "unable to parse requirement: found '', expected: ',', ')' or identifier"],
    ['a (', "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"],
    ['(', "found '(', expected: !, identifier, or 'end of string'"],
    ['x in y', "unable to parse requirement: found 'y' expected: '('"],
    ['-x', /^unable to parse requirement: key: Invalid value: "-x": name part must consist of alphanumeric characters/],
    ['a/b/c', /^unable to parse requirement: key: Invalid value: "a\/b\/c": a valid label key must consist of/],
    ['Example.com/x', /prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters/],
    [`x=${'a'.repeat(64)}`, /values\[0\]\[x\]: Invalid value: "a{64}": must be no more than 63 bytes/],
    [`${'k'.repeat(64)}`, /name part must be no more than 63 bytes/],
    ['x>99999999999999999999', /for 'Gt', 'Lt' operators, the value must be an integer/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input)} with 400`, () => {
      assert.throws(() => parseLabelSelector(input), (err: unknown) => {
        assert.ok(err instanceof StatusError);
        assert.equal(err.code, 400);
        assert.equal(err.reason, 'BadRequest');
        if (typeof message === 'string') assert.equal(err.message, message);
        else assert.match(err.message, message);
        return true;
      });
    });
  }

  it('keeps requirements sorted by key, stably', () => {
    const sel = parseLabelSelector('z,x=1,x!=2');
    assert.deepEqual(
      sel.requirements.map((r) => [r.key, r.operator, r.values]),
      [
        ['x', '=', ['1']],
        ['x', '!=', ['2']],
        ['z', 'exists', []],
      ],
    );
  });
});

describe('LabelSelector.matches', () => {
  // From apimachinery's TestSelectorMatches and TestRequirementSelectorMatching.
  const cases: [string, Record<string, string>, boolean][] = [
    ['', { x: 'y' }, true],
    ['x=y', { x: 'y' }, true],
    ['x==y', { x: 'y' }, true],
    ['x=y,z=w', { x: 'y', z: 'w' }, true],
    ['x!=y,z!=w', { x: 'z', z: 'a' }, true],
    ['notin=in', { notin: 'in' }, true],
    ['x', { x: 'z' }, true],
    ['!x', { y: 'z' }, true],
    ['x>1', { x: '2' }, true],
    ['x<1', { x: '0' }, true],
    ['x<1', { x: '-5' }, true],
    ['x>1', { x: '+2' }, true],
    ['x=z', {}, false],
    ['x=y', { x: 'z' }, false],
    ['x=y,z=w', { x: 'w', z: 'w' }, false],
    ['x!=y,z!=w', { x: 'z', z: 'w' }, false],
    ['x', { y: 'z' }, false],
    ['!x', { x: 'z' }, false],
    ['x>1', { x: '0' }, false],
    ['x<1', { x: '2' }, false],
    ['x>1', { x: 'v2' }, false],
    ['x>1', {}, false],
    ['x in (foo),y notin (alpha)', { x: 'foo', y: 'baz' }, true],
    ['x in (foo),y in (alpha)', { x: 'foo', y: 'baz' }, false],
    ['x notin (),y', { y: '' }, true],
    ['!x,y', { y: '' }, true],
    ['x notin (),!y', { y: '' }, false],
    ['x in ()', { y: 'baz' }, false],
    ['x in ()', { x: '' }, true],
    ['x!=y', {}, true],
    ['x=', { x: '' }, true],
    // Inherited object properties are not labels.
    ['constructor', {}, false],
    ['!toString', {}, true],
  ];
  for (const [selector, labels, expected] of cases) {
    it(`${JSON.stringify(selector)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(labels)}`, () => {
      assert.equal(parseLabelSelector(selector).matches(labels), expected);
    });
  }

  it('treats missing labels as an empty set', () => {
    assert.equal(parseLabelSelector('!x').matches(undefined), true);
    assert.equal(parseLabelSelector('x').matches(undefined), false);
  });
});

describe('selectorFromMatchLabels', () => {
  const cases: [Record<string, string>, string][] = [
    [{}, ''],
    [{ app: 'orders' }, 'app=orders'],
    [{ 'strongroom.dev/database': 'orders', 'app.kubernetes.io/name': 'postgres' }, 'app.kubernetes.io/name=postgres,strongroom.dev/database=orders'],
  ];
  for (const [labels, expected] of cases) {
    it(`renders ${JSON.stringify(labels)}`, () => {
      const text = selectorFromMatchLabels(labels);
      assert.equal(text, expected);
      // The text is a selector that selects exactly those labels.
      assert.equal(parseLabelSelector(text).matches(labels), true);
    });
  }
});
