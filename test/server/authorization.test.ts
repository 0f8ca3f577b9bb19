import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UserInfo } from '../../src/server/authentication.ts';
import {
  alwaysAllowPaths,
  cachedAuthorizer,
  forbiddenMessage,
  standaloneAuthorizer,
  type Authorizer,
  type Decision,
  type RequestAttributes,
} from '../../src/server/authorization.ts';

const user = (name: string, ...groups: string[]): UserInfo => ({ name, groups, extra: {} });

function resource(overrides: Partial<RequestAttributes> = {}): RequestAttributes {
  return {
    user: user('u', 'system:authenticated'),
    verb: 'get',
    resourceRequest: true,
    path: '/apis/strongroom.dev/v1alpha1/namespaces/ns/databases/x/status',
    apiGroup: 'strongroom.dev',
    apiVersion: 'v1alpha1',
    resource: 'databases',
    subresource: 'status',
    namespace: 'ns',
    name: 'x',
    ...overrides,
  };
}

function nonResource(path: string, overrides: Partial<RequestAttributes> = {}): RequestAttributes {
  return {
    user: user('u'),
    verb: 'get',
    resourceRequest: false,
    path,
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    namespace: '',
    name: '',
    ...overrides,
  };
}

describe('forbiddenMessage', () => {
  const cases: Array<{ name: string; attrs: RequestAttributes; reason?: string; want: string }> = [
    {
      name: 'named object in a namespace, with subresource',
      attrs: resource(),
      want: 'databases.strongroom.dev "x" is forbidden: User "u" cannot get resource "databases/status" in API group "strongroom.dev" in the namespace "ns"',
    },
    {
      name: 'collection in a namespace',
      attrs: resource({ verb: 'list', subresource: '', name: '' }),
      want: 'databases.strongroom.dev is forbidden: User "u" cannot list resource "databases" in API group "strongroom.dev" in the namespace "ns"',
    },
    {
      name: 'all namespaces',
      attrs: resource({ verb: 'watch', subresource: '', name: '', namespace: '' }),
      want: 'databases.strongroom.dev is forbidden: User "u" cannot watch resource "databases" in API group "strongroom.dev" at the cluster scope',
    },
    {
      name: 'action subresource, with the authorizer\'s reason',
      attrs: resource({ verb: 'create', subresource: 'backup', user: user('system:serviceaccount:ns:app') }),
      reason: 'RBAC: clusterrole.rbac.authorization.k8s.io "view" not found',
      want: 'databases.strongroom.dev "x" is forbidden: User "system:serviceaccount:ns:app" cannot create resource "databases/backup" in API group "strongroom.dev" in the namespace "ns": RBAC: clusterrole.rbac.authorization.k8s.io "view" not found',
    },
    {
      name: 'core group',
      attrs: resource({ apiGroup: '', resource: 'pods', subresource: '', name: 'p' }),
      want: 'pods "p" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"',
    },
    { name: 'non-resource path', attrs: nonResource('/metrics'), want: 'forbidden: User "u" cannot get path "/metrics"' },
    {
      name: 'HTML-like characters are escaped, quotes in names are Go-quoted',
      attrs: nonResource('/<script>&', { user: user('e"ve') }),
      want: 'forbidden: User "e\\"ve" cannot get path "/&lt;script&gt;&amp;"',
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(forbiddenMessage(c.attrs, c.reason), c.want));
  }
});

describe('standaloneAuthorizer', () => {
  const authorizer = standaloneAuthorizer();
  const cases = [
    { name: 'system:masters may do anything', attrs: resource({ user: user('strongroom-admin', 'system:masters', 'system:authenticated') }), allowed: true },
    { name: 'other authenticated users may not', attrs: resource({ user: user('alice', 'system:authenticated') }), allowed: false },
    { name: 'not even non-resource paths', attrs: nonResource('/metrics'), allowed: false },
  ];
  for (const c of cases) {
    it(c.name, async () => assert.equal((await authorizer.authorize(c.attrs)).allowed, c.allowed));
  }
});

describe('alwaysAllowPaths', () => {
  const denyAll: Authorizer = { authorize: async () => ({ allowed: false, reason: 'inner' }) };
  const cases = [
    { path: '/healthz', allowed: true },
    { path: '/livez', allowed: true },
    { path: '/readyz', allowed: true },
    { path: '/readyz/ping', allowed: true },
    { path: '/livez/log', allowed: true },
    { path: '/readyzz', allowed: false },
    { path: '/metrics', allowed: false },
    { path: '/apis', allowed: false },
  ];
  const authorizer = alwaysAllowPaths(denyAll);
  for (const c of cases) {
    it(`${c.path} → ${c.allowed ? 'allowed' : 'asks the inner authorizer'}`, async () => {
      assert.deepEqual(await authorizer.authorize(nonResource(c.path)), c.allowed ? { allowed: true } : { allowed: false, reason: 'inner' });
    });
  }

  it('never applies to resource requests', async () => {
    assert.equal((await authorizer.authorize(resource({ path: '/healthz' }))).allowed, false);
  });

  it('takes exact paths and `*` prefixes, as upstream', async () => {
    const custom = alwaysAllowPaths(denyAll, ['/version', '/openapi/*']);
    assert.equal((await custom.authorize(nonResource('/version'))).allowed, true);
    assert.equal((await custom.authorize(nonResource('/version/x'))).allowed, false);
    assert.equal((await custom.authorize(nonResource('/openapi/v3/apis/strongroom.dev/v1alpha1'))).allowed, true);
    assert.equal((await custom.authorize(nonResource('/healthz'))).allowed, false);
  });
});

describe('cachedAuthorizer', () => {
  /** An inner authorizer that answers from a table and counts its calls. */
  function counting(decide: (attrs: RequestAttributes) => Decision) {
    const calls: RequestAttributes[] = [];
    const inner: Authorizer = {
      async authorize(attrs) {
        calls.push(attrs);
        return decide(attrs);
      },
    };
    return { inner, calls };
  }

  it('answers repeated identical requests from the cache until the TTL passes', async () => {
    const start = 1_000_000;
    let clock = start;
    const { inner, calls } = counting((a) => ({ allowed: a.verb === 'get' }));
    const authorizer = cachedAuthorizer(inner, { allowTTLMs: 10_000, denyTTLMs: 5_000, now: () => clock });
    const allowed = resource();
    const denied = resource({ verb: 'delete' });

    assert.equal((await authorizer.authorize(allowed)).allowed, true);
    assert.equal((await authorizer.authorize(denied)).allowed, false);
    clock = start + 5_000;
    await authorizer.authorize(allowed);
    await authorizer.authorize(denied);
    assert.equal(calls.length, 2, 'both from the cache');
    clock = start + 5_001;
    await authorizer.authorize(allowed);
    await authorizer.authorize(denied);
    assert.equal(calls.length, 3, 'the denial expired first');
    clock = start + 10_001;
    await authorizer.authorize(allowed);
    assert.equal(calls.length, 4);
  });

  it('keys on every attribute and the whole user', async () => {
    const { inner, calls } = counting(() => ({ allowed: true }));
    const authorizer = cachedAuthorizer(inner);
    const variants: RequestAttributes[] = [
      resource(),
      resource({ name: 'y' }),
      resource({ namespace: 'other' }),
      resource({ subresource: 'scale' }),
      resource({ apiVersion: 'v1' }),
      resource({ verb: 'update' }),
      resource({ user: user('u', 'system:authenticated', 'extra-group') }),
      resource({ user: { ...user('u', 'system:authenticated'), uid: '1' } }),
      resource({ user: { ...user('u', 'system:authenticated'), extra: { scopes: ['a'] } } }),
      nonResource('/metrics'),
      nonResource('/version'),
    ];
    for (const attrs of variants) await authorizer.authorize(attrs);
    for (const attrs of variants) await authorizer.authorize({ ...attrs });
    assert.equal(calls.length, variants.length);
  });

  it('does not remember errors', async () => {
    let fail = true;
    const authorizer = cachedAuthorizer({
      async authorize() {
        if (fail) throw new Error('SubjectAccessReview failed');
        return { allowed: true };
      },
    });
    await assert.rejects(authorizer.authorize(resource()), /SubjectAccessReview failed/);
    fail = false;
    assert.equal((await authorizer.authorize(resource())).allowed, true);
  });

  it('drops the oldest entries beyond maxEntries', async () => {
    const { inner, calls } = counting(() => ({ allowed: true }));
    const authorizer = cachedAuthorizer(inner, { maxEntries: 2 });
    for (const name of ['a', 'b', 'c']) await authorizer.authorize(resource({ name }));
    await authorizer.authorize(resource({ name: 'c' }));
    await authorizer.authorize(resource({ name: 'b' }));
    assert.equal(calls.length, 3);
    await authorizer.authorize(resource({ name: 'a' }));
    assert.equal(calls.length, 4);
  });
});
