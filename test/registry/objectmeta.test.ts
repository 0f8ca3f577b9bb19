import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FieldError, ObjectMeta, OwnerReference } from '../../src/api/meta.ts';
import { StatusError } from '../../src/api/errors.ts';
import { coerceObjectMeta, validateObjectMeta, validateObjectMetaUpdate } from '../../src/registry/objectmeta.ts';

const LIMIT = 256 * 1024;
const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const summary = (errors: FieldError[]) => errors.map((e) => `${e.field}: ${e.message}`);
const ref = (extra: Partial<OwnerReference> = {}): OwnerReference => ({ apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', name: 'orders', uid: '1', ...extra });

describe('validateObjectMeta', () => {
  const valid: [string, ObjectMeta, boolean][] = [
    ['a namespaced object', { name: 'orders', namespace: 'shop' }, true],
    ['a cluster-scoped object', { name: 'orders.example.com' }, false],
    ['a generated name with a trailing dash', { name: 'orders-x7k2p', generateName: 'orders-', namespace: 'shop' }, true],
    [
      'well-formed labels, annotations, finalizers',
      {
        name: 'orders',
        namespace: 'shop',
        labels: { 'app.kubernetes.io/name': 'postgres', empty: '', 'a.b/c_d': 'My_Value.1' },
        annotations: { UpperCase123: 'x', '1.2.3.4/5678': 'y', 'now-with.dashes-and.dots/simple': 'z' },
        finalizers: ['strongroom.dev/snapshot', 'foregroundDeletion'],
      },
      true,
    ],
    ['annotations just under the size limit', { name: 'a', namespace: 'b', annotations: { a: 'b'.repeat(LIMIT - 1) } }, true],
    [
      'owner references with one controller (third-party apiVersion without a group is fine)',
      { name: 'a', namespace: 'b', ownerReferences: [ref({ controller: false }), ref({ uid: '2', controller: true }), ref({ uid: '3', apiVersion: 'customresourceVersion' })] },
      true,
    ],
    ['managed fields', { name: 'a', namespace: 'b', managedFields: [{ manager: 'kubectl', operation: 'Apply', apiVersion: 'v1', time: '', fieldsType: 'FieldsV1', fieldsV1: {} }] }, true],
  ];
  for (const [name, meta, namespaced] of valid) {
    it(`accepts ${name}`, () => assert.deepEqual(validateObjectMeta(meta, namespaced), []));
  }

  const invalid: [string, ObjectMeta, boolean, string[]][] = [
    ['a missing name', { namespace: 'shop' }, true, ['metadata.name: Required value: name or generateName is required']],
    ['an uppercase name', { name: 'Orders', namespace: 'shop' }, true, [`metadata.name: Invalid value: "Orders": ${SUBDOMAIN}`]],
    [
      'a too-long name',
      { name: 'a'.repeat(254), namespace: 'shop' },
      true,
      [`metadata.name: Invalid value: "${'a'.repeat(254)}": must be no more than 253 characters`],
    ],
    ['a bad generateName', { name: 'x', generateName: 'Bad_', namespace: 'shop' }, true, [`metadata.generateName: Invalid value: "Bad_": ${SUBDOMAIN}`]],
    ['a generateName that is only a dash', { name: 'x', generateName: '-', namespace: 'shop' }, true, [`metadata.generateName: Invalid value: "-": ${SUBDOMAIN}`]],
    ['a missing namespace', { name: 'orders' }, true, ['metadata.namespace: Required value']],
    ['a namespace with dots', { name: 'orders', namespace: 'foo.bar' }, true, ['metadata.namespace: Invalid value: "foo.bar": must not contain dots']],
    ['a namespace on a cluster-scoped object', { name: 'orders', namespace: 'shop' }, false, ['metadata.namespace: Forbidden: not allowed on this type']],
    ['a negative generation', { name: 'a', namespace: 'b', generation: -1 }, true, ['metadata.generation: Invalid value: -1: must be greater than or equal to 0']],
    [
      'a bad label key and value',
      { name: 'a', namespace: 'b', labels: { 'bad key': 'x y' } },
      true,
      [
        // Upstream's texts, double spaces included.
        `metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
        `metadata.labels: Invalid value: "x y": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
      ],
    ],
    ['an annotation key with two slashes', { name: 'a', namespace: 'b', annotations: { 'only/one/slash': 'x' } }, true, ['metadata.annotations: Invalid value: "only/one/slash": a valid label key']],
    ['an annotation key ending in a dash', { name: 'a', namespace: 'b', annotations: { 'cantendwithadash-': 'x' } }, true, ['metadata.annotations: Invalid value: "cantendwithadash-": name part must consist']],
    ['too many annotation bytes', { name: 'a', namespace: 'b', annotations: { a: 'b'.repeat(LIMIT / 2), c: 'd'.repeat(LIMIT / 2) } }, true, ['metadata.annotations: Too long: may not be more than 262144 bytes']],
    ['a malformed finalizer', { name: 'a', namespace: 'b', finalizers: ['a/b/c'] }, true, ['metadata.finalizers: Invalid value: "a/b/c": a valid label key']],
    [
      'conflicting finalizers',
      { name: 'a', namespace: 'b', finalizers: ['orphan', 'foregroundDeletion'] },
      true,
      ['metadata.finalizers: Invalid value: ["orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set'],
    ],
    [
      'an owner reference without its fields',
      { name: 'a', namespace: 'b', ownerReferences: [{ apiVersion: '', kind: '', name: '', uid: '' }] },
      true,
      [
        'metadata.ownerReferences[0].apiVersion: Required value: must not be empty',
        'metadata.ownerReferences[0].kind: Required value: must not be empty',
        'metadata.ownerReferences[0].name: Required value: must not be empty',
        'metadata.ownerReferences[0].uid: Required value: must not be empty',
      ],
    ],
    ['an apiVersion with too many slashes', { name: 'a', namespace: 'b', ownerReferences: [ref({ apiVersion: 'a/b/c' })] }, true, ['metadata.ownerReferences[0].apiVersion: Invalid value: "a/b/c": must be <group>/<version> or <version>']],
    ['an apiVersion without a version', { name: 'a', namespace: 'b', ownerReferences: [ref({ apiVersion: 'foo/' })] }, true, ['metadata.ownerReferences[0].apiVersion: Invalid value: "foo/": must be <group>/<version> or <version>']],
    ['an Event as owner', { name: 'a', namespace: 'b', ownerReferences: [ref({ apiVersion: 'v1', kind: 'Event' })] }, true, ['metadata.ownerReferences[0]: Invalid value: {"apiVersion":"v1","kind":"Event"']],
    [
      'two controllers',
      { name: 'a', namespace: 'b', ownerReferences: [ref({ kind: 'K1', controller: false }), ref({ kind: 'K2', controller: true }), ref({ kind: 'K3', controller: true })] },
      true,
      ['metadata.ownerReferences: Invalid value: [{"apiVersion"'],
    ],
    [
      'malformed managed fields',
      { name: 'a', namespace: 'b', managedFields: [{ manager: 'x\ty', operation: '' as 'Apply', apiVersion: 'v1', time: '', fieldsType: 'FieldsV2' as 'FieldsV1', fieldsV1: {}, subresource: 's'.repeat(257) }] },
      true,
      [
        'metadata.managedFields[0].operation: Required value: must not be empty',
        'metadata.managedFields[0].fieldsType: Invalid value: "FieldsV2": must be `FieldsV1`',
        'metadata.managedFields[0].manager: Invalid value: "x\\ty": invalid character U+0009 (at position 1)',
        'metadata.managedFields[0].subresource: Too long: may not be more than 256 bytes',
      ],
    ],
    ['an unknown managed fields operation', { name: 'a', namespace: 'b', managedFields: [{ manager: 'm', operation: 'Merge' as 'Apply', apiVersion: 'v1', time: '', fieldsType: 'FieldsV1', fieldsV1: {} }] }, true, ['metadata.managedFields[0].operation: Unsupported value: "Merge": supported values: "Apply", "Update"']],
  ];
  for (const [name, meta, namespaced, expected] of invalid) {
    it(`rejects ${name}`, () => {
      const texts = summary(validateObjectMeta(meta, namespaced));
      // Each expected text starts one error, in order (long bad values and messages are cut short).
      assert.equal(texts.length, expected.length, texts.join('\n'));
      expected.forEach((e, i) => assert.ok(texts[i]!.startsWith(e), `${texts[i]}\n  does not start with\n${e}`));
    });
  }

  it('names both controllers', () => {
    const [error] = validateObjectMeta({ name: 'a', namespace: 'b', ownerReferences: [ref({ kind: 'K1', controller: true }), ref({ kind: 'K2', controller: true })] }, true);
    assert.ok(error!.message.endsWith(': Only one reference can have Controller set to true. Found "true" in references for K1/orders and K2/orders'), error!.message);
  });

  it('reports the cause type of each error', () => {
    assert.deepEqual(
      validateObjectMeta({ namespace: 'Bad', annotations: { a: 'b'.repeat(LIMIT) } }, true).map((e) => e.type),
      ['FieldValueRequired', 'FieldValueInvalid', 'FieldValueTooLong'],
    );
  });
});

describe('validateObjectMetaUpdate', () => {
  const base: ObjectMeta = { name: 'orders', namespace: 'shop', uid: 'u1', resourceVersion: '5', generation: 2, creationTimestamp: '2026-01-01T00:00:00Z', finalizers: ['x/a'] };
  const deleting: ObjectMeta = { ...base, deletionTimestamp: '2026-01-02T00:00:00Z', deletionGracePeriodSeconds: 0 };

  const cases: [string, ObjectMeta, ObjectMeta, string[]][] = [
    ['an unchanged object', base, base, []],
    ['a label change', { ...base, labels: { a: 'b' } }, base, []],
    ['adding finalizers while not deleting', { ...base, finalizers: ['x/a', 'y/b'] }, base, []],
    ['removing finalizers while deleting', { ...deleting, finalizers: [] }, deleting, []],
    ['the same timestamp written differently', { ...base, creationTimestamp: '2026-01-01T01:00:00+01:00' }, base, []],
    ['a higher generation', { ...base, generation: 3 }, base, []],
    [
      'adding finalizers while deleting',
      { ...deleting, finalizers: ['x/a', 'z/c', 'y/b'] },
      deleting,
      ['metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"y/b", "z/c"}'],
    ],
    ['a missing resourceVersion', { ...base, resourceVersion: undefined }, base, ['metadata.resourceVersion: Invalid value: "": must be specified for an update']],
    ['a lower generation', { ...base, generation: 1 }, base, ['metadata.generation: Invalid value: 1: must not be decremented']],
    [
      'every immutable field changed',
      { ...base, name: 'other', namespace: 'prod', uid: 'u2', creationTimestamp: '2026-01-01T00:00:01Z', deletionTimestamp: '2026-01-03T00:00:00Z', deletionGracePeriodSeconds: 30 },
      base,
      [
        'metadata.name: Invalid value: "other": field is immutable',
        'metadata.namespace: Invalid value: "prod": field is immutable',
        'metadata.uid: Invalid value: "u2": field is immutable',
        'metadata.creationTimestamp: Invalid value: "2026-01-01T00:00:01Z": field is immutable',
        'metadata.deletionTimestamp: Invalid value: "2026-01-03T00:00:00Z": field is immutable',
        'metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable',
      ],
    ],
    ['removing the deletion timestamp', { ...deleting, deletionTimestamp: undefined }, deleting, ['metadata.deletionTimestamp: Invalid value: null: field is immutable']],
  ];
  for (const [name, meta, old, expected] of cases) {
    it(`${expected.length ? 'rejects' : 'accepts'} ${name}`, () => {
      assert.deepEqual(summary(validateObjectMetaUpdate(meta, old)), expected);
    });
  }
});

describe('coerceObjectMeta', () => {
  it('keeps well-formed fields as they are', () => {
    const metadata = {
      name: 'orders',
      namespace: 'shop',
      generation: 3,
      labels: { a: 'b' },
      finalizers: ['x/y'],
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u', controller: true }],
      managedFields: [{ manager: 'm', operation: 'Update', apiVersion: 'v1', time: '2026-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
      creationTimestamp: '2026-01-01T00:00:00.123Z',
    };
    assert.deepEqual(coerceObjectMeta(metadata), { metadata, unknownFields: [] });
  });

  const cases: [string, unknown, ObjectMeta, string[]][] = [
    ['not an object', 'orders', {}, []],
    ['nulls', { name: 'a', labels: null, generation: null }, { name: 'a' }, []],
    ['selfLink, known but never kept', { name: 'a', selfLink: '/apis/x' }, { name: 'a' }, []],
    ['unknown fields', { name: 'a', colour: 'red', annotation: {} }, { name: 'a' }, ['metadata.annotation', 'metadata.colour']],
    [
      'unknown fields of owner references',
      { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u', extra: 1 }] },
      { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u' }] },
      ['metadata.ownerReferences[0].extra'],
    ],
    ['an inherited property name', JSON.parse('{"name":"a","constructor":"x"}'), { name: 'a' }, ['metadata.constructor']],
  ];
  for (const [name, input, metadata, unknownFields] of cases) {
    it(`handles ${name}`, () => assert.deepEqual(coerceObjectMeta(input), { metadata, unknownFields }));
  }

  // kube-apiserver's request decoder refuses these for custom resources whatever fieldValidation says.
  const malformed: [string, unknown, string][] = [
    ['labels that are a list', { name: 'a', labels: [] }, 'cannot unmarshal array into Go struct field ObjectMeta.labels of type map[string]string'],
    ['a label value that is not a string', { name: 'a', labels: { a: 1, b: 'c' } }, 'cannot unmarshal object into Go struct field ObjectMeta.labels'],
    ['a name that is not a string', { name: 5, namespace: 'x' }, 'cannot unmarshal number into Go struct field ObjectMeta.name of type string'],
    ['a fractional generation', { name: 'a', generation: 1.5 }, 'ObjectMeta.generation of type int64'],
    ['a timestamp that is not RFC 3339', { name: 'a', creationTimestamp: 'yesterday' }, 'ObjectMeta.creationTimestamp of type v1.Time'],
    ['finalizers that are not strings', { name: 'a', finalizers: ['x', 3] }, 'ObjectMeta.finalizers of type []string'],
    ['a malformed owner reference', { name: 'a', ownerReferences: [{ name: 'p', uid: 'u', kind: 'Pod', apiVersion: 'v1' }, { name: 5 }] }, 'ObjectMeta.ownerReferences'],
    ['managed fields that are a string', { name: 'a', managedFields: 'x' }, 'cannot unmarshal string into Go struct field ObjectMeta.managedFields'],
  ];
  for (const [name, input, message] of malformed) {
    it(`refuses ${name} with 400`, () => {
      assert.throws(() => coerceObjectMeta(input), (err: StatusError) => err.code === 400 && err.message.includes(message));
    });
  }
});
