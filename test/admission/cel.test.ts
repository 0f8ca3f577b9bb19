import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompileError, EvaluationError, compile } from '../../src/admission/cel/environment.ts';
import { fromCel, toCel } from '../../src/admission/cel/values.ts';
import { authorizerFor } from '../../src/admission/cel/authorizer.ts';
import type { Authorizer, RequestAttributes } from '../../src/server/authorization.ts';
import { attributes } from './fixtures.ts';

const VARIABLES = ['object', 'oldObject', 'params', 'variables'];
const database = {
  apiVersion: 'strongroom.dev/v1alpha1',
  kind: 'Database',
  metadata: { name: 'orders', namespace: 'prod', labels: { team: 'shop', tier: 'gold' } },
  spec: { engine: 'postgres', replicas: 3, storage: { size: '10Gi' }, parameters: { max_connections: '200' }, ratio: 0.5 },
};

async function run(expression: string, activation: Record<string, unknown> = { object: database }): Promise<unknown> {
  const converted = Object.fromEntries(Object.entries(activation).map(([k, v]) => [k, toCel(v)]));
  return fromCel(await compile(expression, VARIABLES, 'any').evaluate(converted));
}

describe('CEL with the Kubernetes libraries', () => {
  const cases: [string, unknown][] = [
    ['object.spec.replicas <= 5', true],
    ['object.spec.replicas + 1', 4],
    ['object.spec.ratio * 2.0', 1],
    ['has(object.spec.backup)', false],
    ['has(object.spec.storage.size)', true],
    ["object.?spec.?backup.?schedule.orValue('none')", 'none'],
    ["'team' in object.metadata.labels && object.metadata.labels.team == 'shop'", true],
    ['object.metadata.labels.all(k, k.size() <= 4)', true],
    ["object.metadata.labels.exists(k, object.metadata.labels[k] == 'gold')", true],
    ['cel.bind(n, object.spec.replicas, n * n)', 9],
    // strings
    ["'postgres'.charAt(1)", 'o'],
    ["'a-b-c'.replace('-', '+')", 'a+b+c'],
    ["'a-b-c'.replace('-', '+', 1)", 'a+b-c'],
    ["'abc'.reverse()", 'cba'],
    ["'Orders'.lowerAscii()", 'orders'],
    ["'a,b'.split(',')", ['a', 'b']],
    ["['a', 'b'].join('/')", 'a/b'],
    ["'%s has %d replicas (%.1f)'.format([object.metadata.name, object.spec.replicas, 1.26])", 'orders has 3 replicas (1.3)'],
    // regex, on RE2
    ["'db-42-x-7'.find('[0-9]+')", '42'],
    ["'db-42-x-7'.findAll('[0-9]+')", ['42', '7']],
    ["'db-42-x-7'.findAll('[0-9]+', 1)", ['42']],
    ["'orders'.matches('^[a-z]+$')", true],
    // lists
    ['[1, 2, 3].sum()', 6],
    ['[3, 1, 2].min()', 1],
    ['[3, 1, 2].max()', 3],
    ['[1, 2, 2].isSorted()', true],
    ['[2, 1].isSorted()', false],
    ["['a', 'b', 'a'].indexOf('a')", 0],
    ["['a', 'b', 'a'].lastIndexOf('a')", 2],
    ["['a', 'b', 'a'].distinct()", ['a', 'b']],
    ['[1, 2, 3, 4].slice(1, 3)', [2, 3]],
    ['[[1], [2, [3]]].flatten()', [1, 2, [3]]],
    ['[3, 1, 2].sort()', [1, 2, 3]],
    // quantity
    ["quantity(object.spec.storage.size).isGreaterThan(quantity('5Gi'))", true],
    ["quantity('1Gi').compareTo(quantity('1024Mi'))", 0],
    ["quantity('1k').add(24).asInteger()", 1024],
    ["quantity('500m').isInteger()", false],
    ["quantity('500m').asApproximateFloat()", 0.5],
    ["isQuantity('10Gi') && !isQuantity('10 GB')", true],
    ["quantity('2Gi').sub(quantity('1Gi')).sign()", 1],
  ];
  for (const [expression, expected] of cases) {
    it(expression, async () => assert.deepEqual(await run(expression), expected));
  }

  it('reads params and variables', async () => {
    const variables = {
      get limit() {
        return toCel(5);
      },
    };
    const program = compile('object.spec.replicas <= variables.limit && params.data.engine == object.spec.engine', VARIABLES, 'bool');
    assert.equal(await program.evaluate({ object: toCel(database), params: toCel({ data: { engine: 'postgres' } }), variables }), true);
  });

  it('refuses syntax errors, undeclared names and wrong result types at compile time', () => {
    assert.throws(() => compile('object.spec.', VARIABLES, 'bool'), (e: unknown) => e instanceof CompileError && /^compilation failed: /.test(e.message));
    assert.throws(() => compile('request.name == "x"', VARIABLES, 'bool'), CompileError);
    assert.throws(() => compile("'a' + 'b'", VARIABLES, 'bool'), { message: 'must evaluate to bool but got string' });
  });

  it('reports evaluation errors with the expression, as kube-apiserver does', async () => {
    const program = compile('object.spec.backup.schedule != ""', VARIABLES, 'bool');
    await assert.rejects(
      program.evaluate({ object: toCel(database) }),
      (e: unknown) => e instanceof EvaluationError && /^expression 'object\.spec\.backup\.schedule != ""' resulted in error: /.test(e.message),
    );
    await assert.rejects(run('[1].slice(0, 2)'), /cannot slice/);
    await assert.rejects(run('[].min()'), /min called on empty list/);
    await assert.rejects(run("quantity('1.5').asInteger()"), /cannot convert value to integer/);
    await assert.rejects(run("quantity('lots')"), /regular expression/);
  });
});

describe('the authorizer library', () => {
  // Grants by a table, as RBAC would: alice may get secrets in prod; the backup-agent service account may create
  // backups/status there; /healthz is open to all. Records what it was asked.
  const asked: RequestAttributes[] = [];
  const rbac: Authorizer = {
    async authorize(attrs) {
      asked.push(attrs);
      const key = `${attrs.user.name} ${attrs.verb} ${attrs.resourceRequest ? `${attrs.apiGroup}/${attrs.resource}/${attrs.subresource}/${attrs.namespace}/${attrs.name}` : attrs.path}`;
      const allowed = [
        'alice get /secrets//prod/',
        'alice update strongroom.dev/databases//prod/orders',
        'system:serviceaccount:prod:backup-agent create strongroom.dev/backups/status/prod/',
      ].includes(key) || attrs.path === '/healthz';
      return { allowed, reason: allowed ? 'granted' : 'no rule' };
    },
  };
  /** `null`: no authorizer configured. */
  const check = async (expression: string, authorizer: Authorizer | null = rbac) =>
    compile(expression, ['authorizer'], 'any').evaluate({ authorizer: authorizerFor(attributes({ operation: 'UPDATE' }), authorizer ?? undefined) });

  const cases: [string, unknown][] = [
    ["authorizer.group('').resource('secrets').namespace('prod').check('get').allowed()", true],
    ["authorizer.group('').resource('secrets').namespace('dev').check('get').allowed()", false],
    ["authorizer.group('').resource('secrets').namespace('dev').check('get').reason()", 'no rule'],
    ["authorizer.requestResource.check('update').allowed()", true],
    ["authorizer.serviceAccount('prod', 'backup-agent').group('strongroom.dev').resource('backups').subresource('status').namespace('prod').check('create').allowed()", true],
    ["authorizer.path('/healthz').check('get').allowed()", true],
    ["authorizer.path('/metrics').check('get').allowed() || authorizer.path('/healthz').check('get').errored()", false],
  ];
  for (const [expression, expected] of cases) it(expression, async () => assert.equal(await check(expression), expected));

  it('asks as the requesting user, with every attribute of the check', async () => {
    asked.length = 0;
    await check("authorizer.group('apps').resource('statefulsets').subresource('scale').namespace('prod').name('db').check('patch').allowed()");
    assert.deepEqual(asked, [
      {
        verb: 'patch',
        resourceRequest: true,
        path: '',
        apiGroup: 'apps',
        apiVersion: '*',
        resource: 'statefulsets',
        subresource: 'scale',
        namespace: 'prod',
        name: 'db',
        user: { name: 'alice', groups: ['dev', 'system:authenticated'], extra: {} },
      },
    ]);
  });

  it('reports a failed check as errored, not as a denial of the request', async () => {
    const broken: Authorizer = { authorize: () => Promise.reject(new Error('SubjectAccessReview failed: connection refused')) };
    assert.equal(await check("authorizer.path('/x').check('get').errored()", broken), true);
    assert.equal(await check("authorizer.path('/x').check('get').error()", broken), 'SubjectAccessReview failed: connection refused');
    assert.equal(await check("authorizer.path('/x').check('get').error()", null), 'no authorizer is configured');
  });

  it('type-checks the calls', () => {
    assert.throws(() => compile("authorizer.group('').check('get')", ['authorizer'], 'any'), CompileError);
  });
});
