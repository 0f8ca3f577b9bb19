import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError } from '../../src/api/errors.ts';
import {
  decodeContinue,
  encodeContinue,
  parseDeleteOptions,
  parseDryRun,
  parseFieldManager,
  parseFieldValidation,
  parseListOptions,
  parseResourceVersion,
} from '../../src/registry/options.ts';

const q = (s: string) => new URLSearchParams(s);

/** Asserts a 422 Invalid on a meta.k8s.io options kind with exactly these `field: message` causes. */
function assertInvalid(fn: () => unknown, kind: string, causes: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof StatusError);
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    assert.equal(err.details?.kind, kind);
    assert.equal(err.details?.group, 'meta.k8s.io');
    const summary = causes.length === 1 ? causes[0] : `[${causes.join(', ')}]`;
    assert.equal(err.message, `${kind}.meta.k8s.io "" is invalid: ${summary}`);
    assert.deepEqual(
      err.details?.causes?.map((c) => `${c.field}: ${c.message}`),
      causes,
    );
    return true;
  });
}

describe('parseDryRun', () => {
  const cases: [string[], boolean][] = [
    [[], false],
    [['All'], true],
    [['All', 'All'], true],
  ];
  for (const [values, expected] of cases) it(`${JSON.stringify(values)} → ${expected}`, () => assert.equal(parseDryRun(values), expected));

  it('rejects anything but All', () => {
    assert.throws(() => parseDryRun(['All', 'true']), {
      code: 400,
      message: 'dryRun: Unsupported value: ["All","true"]: supported values: "All"',
      details: { causes: [{ reason: 'FieldValueNotSupported', field: 'dryRun', message: 'Unsupported value: ["All","true"]: supported values: "All"' }] },
    });
  });
});

describe('parseFieldValidation', () => {
  const cases: [string | null, string][] = [
    [null, 'Warn'],
    ['', 'Warn'],
    ['Ignore', 'Ignore'],
    ['Warn', 'Warn'],
    ['Strict', 'Strict'],
  ];
  for (const [value, expected] of cases) it(`${JSON.stringify(value)} → ${expected}`, () => assert.equal(parseFieldValidation(value), expected));

  it('rejects other values', () => {
    assert.throws(() => parseFieldValidation('strict'), { code: 400, message: 'fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"' });
  });
});

describe('parseFieldManager', () => {
  const cases: [string | null, boolean, string | undefined][] = [
    [null, false, undefined],
    ['', false, undefined],
    ['kubectl-client-side-apply', false, 'kubectl-client-side-apply'],
    ['kubectl', true, 'kubectl'],
    ['with space and ünïcode', false, 'with space and ünïcode'],
    ['m'.repeat(128), false, 'm'.repeat(128)],
  ];
  for (const [value, isApply, expected] of cases) {
    it(`${JSON.stringify(value)}${isApply ? ' (apply)' : ''} → ${String(expected)}`, () => assert.equal(parseFieldManager(value, isApply), expected));
  }

  const invalid: [string | null, boolean, string][] = [
    [null, true, 'fieldManager: Required value: is required for apply patch'],
    ['m'.repeat(129), false, 'fieldManager: Too long: may not be more than 128 bytes'],
    // 64 two-byte characters are 128 bytes; one more is too long.
    ['é'.repeat(65), false, 'fieldManager: Too long: may not be more than 128 bytes'],
    ['tab\there', false, 'fieldManager: Invalid value: "tab\\there": invalid character U+0009 (at position 3)'],
    ['é\u00a0', false, 'fieldManager: Invalid value: "é\u00a0": invalid character U+00A0 (at position 2)'],
  ];
  for (const [value, isApply, message] of invalid) {
    it(`rejects ${JSON.stringify(value)}`, () => assert.throws(() => parseFieldManager(value, isApply), { code: 400, reason: 'BadRequest', message }));
  }
});

describe('parseDeleteOptions', () => {
  const cases: [string, unknown, string, object][] = [
    ['no body and no query', undefined, '', { dryRun: false }],
    [
      'query parameters',
      undefined,
      'gracePeriodSeconds=0&propagationPolicy=Foreground&dryRun=All',
      { dryRun: true, gracePeriodSeconds: 0, propagationPolicy: 'Foreground' },
    ],
    ['orphanDependents in the query', undefined, 'orphanDependents=false', { dryRun: false, orphanDependents: false }],
    ['kubectl body', { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }, '', { dryRun: false, propagationPolicy: 'Background' }],
    [
      'garbage collector body with preconditions',
      { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', preconditions: { uid: 'u1', resourceVersion: '4' }, propagationPolicy: 'Orphan', dryRun: ['All'] },
      '',
      { dryRun: true, preconditions: { uid: 'u1', resourceVersion: '4' }, propagationPolicy: 'Orphan' },
    ],
    ['a body without type meta', { gracePeriodSeconds: 30 }, '', { dryRun: false, gracePeriodSeconds: 30 }],
    ['a body with nulls', { gracePeriodSeconds: null, preconditions: null, propagationPolicy: null }, '', { dryRun: false }],
    // A body wins; the query is not merged in.
    ['a body and a query', { propagationPolicy: 'Orphan' }, 'propagationPolicy=Foreground&dryRun=All', { dryRun: false, propagationPolicy: 'Orphan' }],
  ];
  for (const [name, body, query, expected] of cases) {
    it(`reads ${name}`, () => assert.deepEqual(parseDeleteOptions(body, q(query)), expected));
  }

  it('rejects a propagation policy it does not know', () => {
    assertInvalid(() => parseDeleteOptions(undefined, q('propagationPolicy=Cascade')), 'DeleteOptions', [
      'propagationPolicy: Unsupported value: "Cascade": supported values: "Foreground", "Background", "Orphan", "nil"',
    ]);
  });

  it('rejects orphanDependents together with propagationPolicy, and a bad dryRun, at once', () => {
    assertInvalid(() => parseDeleteOptions({ orphanDependents: true, propagationPolicy: 'Orphan', dryRun: ['yes'] }, q('')), 'DeleteOptions', [
      'propagationPolicy: Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set',
      'dryRun: Unsupported value: ["yes"]: supported values: "All"',
    ]);
  });

  const undecodable: [string, unknown, string, RegExp][] = [
    ['a non-object body', [1], '', /must be a DeleteOptions object/],
    ['another kind', { kind: 'Pod', apiVersion: 'v1' }, '', /no kind "Pod" is registered for version "v1"/],
    ['an unknown version', { kind: 'DeleteOptions', apiVersion: 'apps/v1' }, '', /no kind "DeleteOptions" is registered for version "apps\/v1"/],
    ['a string grace period', { gracePeriodSeconds: '30' }, '', /gracePeriodSeconds must be an integer/],
    ['a numeric uid precondition', { preconditions: { uid: 5 } }, '', /uid must be a string/],
    ['a non-integer grace period in the query', undefined, 'gracePeriodSeconds=soon', /strconv.ParseInt: parsing "soon": invalid syntax/],
  ];
  for (const [name, body, query, message] of undecodable) {
    it(`answers 400 for ${name}`, () => assert.throws(() => parseDeleteOptions(body, q(query)), { code: 400, reason: 'BadRequest', message }));
  }
});

describe('parseListOptions', () => {
  it('decodes every parameter', () => {
    assert.deepEqual(
      parseListOptions(
        q('labelSelector=app%3Dx&fieldSelector=metadata.name%3Dy&watch=1&allowWatchBookmarks=true&resourceVersion=&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=30'),
      ),
      {
        labelSelector: 'app=x',
        fieldSelector: 'metadata.name=y',
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: '',
        resourceVersionMatch: 'NotOlderThan',
        sendInitialEvents: true,
        limit: 0,
        continue: '',
        timeoutSeconds: 30,
      },
    );
  });

  const booleans: [string, boolean][] = [
    ['', false],
    ['watch', true],
    ['watch=', true],
    ['watch=true', true],
    ['watch=1', true],
    ['watch=0', false],
    ['watch=false', false],
    ['watch=FALSE', false],
  ];
  for (const [query, watch] of booleans) it(`reads ${JSON.stringify(query)} as watch=${watch}`, () => assert.equal(parseListOptions(q(query)).watch, watch));

  const valid: [string, Partial<Record<string, unknown>>][] = [
    ['limit=500&continue=abc', { limit: 500, continue: 'abc' }],
    ['limit=-1', { limit: 0 }],
    ['resourceVersion=1&resourceVersionMatch=Exact', { resourceVersion: '1', resourceVersionMatch: 'Exact' }],
    ['resourceVersion=0&resourceVersionMatch=NotOlderThan', { resourceVersion: '0', resourceVersionMatch: 'NotOlderThan' }],
    ['continue=abc&resourceVersion=0', { continue: 'abc', resourceVersion: '0' }],
    ['watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan', { sendInitialEvents: false }],
    ['watch=1&resourceVersion=10', { resourceVersion: '10', sendInitialEvents: undefined, resourceVersionMatch: '' }],
  ];
  for (const [query, expected] of valid) {
    it(`accepts ${query}`, () => {
      const options = parseListOptions(q(query)) as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(options[key], value, key);
    });
  }

  // apimachinery's TestValidateListOptions, with the WatchList feature on.
  const invalid: [string, string[]][] = [
    ['resourceVersion=0&resourceVersionMatch=Exact', ['resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"']],
    ['resourceVersion=0&resourceVersionMatch=foo', ['resourceVersionMatch: Unsupported value: "foo": supported values: "Exact", "NotOlderThan", ""']],
    ['resourceVersionMatch=Exact', ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided']],
    ['resourceVersion=1&resourceVersionMatch=Exact&continue=abc', ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided']],
    ['sendInitialEvents=true', ['sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list']],
    ['watch=1&resourceVersionMatch=NotOlderThan', ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided']],
    ['watch=1&sendInitialEvents=true', ['resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan']],
    [
      'watch=1&sendInitialEvents=true&resourceVersionMatch=Exact',
      [
        'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
        'resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"',
      ],
    ],
    [
      'watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&continue=abc',
      ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided'],
    ],
  ];
  for (const [query, causes] of invalid) {
    it(`rejects ${query} with 422`, () => assertInvalid(() => parseListOptions(q(query)), 'ListOptions', causes));
  }

  const badRequests: [string, string][] = [
    ['limit=ten', 'strconv.ParseInt: parsing "ten": invalid syntax'],
    ['timeoutSeconds=1e3', 'strconv.ParseInt: parsing "1e3": invalid syntax'],
    ['limit=99999999999999999999', 'strconv.ParseInt: parsing "99999999999999999999": value out of range'],
    ['resourceVersion=abc', 'invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'],
    ['continue=abc&resourceVersion=5', 'specifying resource version is not allowed when using continue'],
  ];
  for (const [query, message] of badRequests) {
    it(`rejects ${query} with 400`, () => assert.throws(() => parseListOptions(q(query)), { code: 400, reason: 'BadRequest', message }));
  }
});

describe('parseResourceVersion', () => {
  const cases: [string, number][] = [
    ['', 0],
    ['0', 0],
    ['42', 42],
  ];
  for (const [value, expected] of cases) it(`${JSON.stringify(value)} → ${expected}`, () => assert.equal(parseResourceVersion(value), expected));
  for (const bad of ['-1', '+1', '1.5', ' 1', '18446744073709551616']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseResourceVersion(bad), { code: 400 }));
  }
});

describe('continue tokens', () => {
  it('round-trip in the upstream format', () => {
    const token = encodeContinue({ rv: 42, start: '/strongroom.dev/databases/shop/orders\u0000' });
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(JSON.parse(Buffer.from(token, 'base64url').toString()), { v: 'meta.k8s.io/v1', rv: 42, start: '/strongroom.dev/databases/shop/orders\u0000' });
    assert.deepEqual(decodeContinue(token), { rv: 42, start: '/strongroom.dev/databases/shop/orders\u0000' });
  });

  it('accept a negative revision (continue at the newest revision) and a relative start key', () => {
    assert.deepEqual(decodeContinue(encodeContinue({ rv: -1, start: 'shop/orders' })), { rv: -1, start: 'shop/orders' });
  });

  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const invalid: [string, string, RegExp][] = [
    ['not base64url', 'abc+/==', /illegal base64 data/],
    ['not JSON', Buffer.from('nope').toString('base64url'), /continue key is not valid: /],
    ['another version', encode({ v: 'meta.k8s.io/v2', rv: 1, start: 'a' }), /server does not recognize this encoded version meta.k8s.io\/v2/],
    ['revision 0', encode({ v: 'meta.k8s.io/v1', rv: 0, start: 'a' }), /incorrect encoded start resourceVersion/],
    ['a string revision', encode({ v: 'meta.k8s.io/v1', rv: '5', start: 'a' }), /incorrect encoded start resourceVersion/],
    ['an empty start', encode({ v: 'meta.k8s.io/v1', rv: 5, start: '' }), /encoded start key empty/],
    ['a start that climbs out of the prefix', encode({ v: 'meta.k8s.io/v1', rv: 5, start: '../secrets/x' }), /continue key is not valid: \.\.\/secrets\/x/],
    ['a start with a double slash', encode({ v: 'meta.k8s.io/v1', rv: 5, start: 'a//b' }), /continue key is not valid: a\/\/b/],
  ];
  for (const [name, token, message] of invalid) {
    it(`reject ${name} with 400`, () => {
      assert.throws(() => decodeContinue(token), (err: unknown) => {
        assert.ok(err instanceof StatusError);
        assert.equal(err.code, 400);
        assert.match(err.message, /^invalid continue token: /);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
