import { Type } from '@sinclair/typebox';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JSONSchemaProps } from '../../src/api/definition.ts';
import { fieldForbidden } from '../../src/api/field.ts';
import type { KubeObject } from '../../src/api/meta.ts';
import {
  applySchemaDefaults,
  compileSchema,
  fieldPath,
  pruneUnknownFields,
  ResourceSchema,
  schemaAndValidation,
} from '../../src/api/schema.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: {
      type: 'object',
      required: ['mode'],
      properties: {
        mode: { type: 'string', enum: ['a', 'b'] },
        count: { type: 'integer', format: 'int32', minimum: 1, default: 1 },
        label: { type: 'string', maxLength: 3 },
        tags: { type: 'array', maxItems: 2, items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        items: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
          items: {
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' }, weight: { type: 'integer', default: 10 } },
          },
        },
        nested: {
          type: 'object',
          default: {},
          properties: {
            inner: { type: 'object', default: { on: true }, properties: { on: { type: 'boolean' }, level: { type: 'integer', default: 3 } } },
            maybe: { type: 'string', nullable: true, default: 'x' },
            never: { type: 'string', default: 'y' },
          },
        },
        size: {
          anyOf: [{ type: 'integer' }, { type: 'string' }],
          pattern: '^[0-9]+Gi$',
          'x-kubernetes-int-or-string': true,
        },
        when: { type: 'string', format: 'date-time' },
        free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'object', properties: {} } } },
      },
    },
  },
};

describe('compileSchema', () => {
  const validate = compileSchema(schema);

  it('accepts a valid object', () => {
    assert.deepEqual(validate({ spec: { mode: 'a', size: 3, when: '2025-01-02T03:04:05Z', items: [{ name: 'x' }, { name: 'y' }] } }), []);
    assert.deepEqual(validate({ spec: { mode: 'b', size: '10Gi' } }), []);
  });

  const cases: { name: string; spec: unknown; type: string; field: string; message?: RegExp }[] = [
    { name: 'missing required', spec: {}, type: 'FieldValueRequired', field: 'spec.mode', message: /^Required value$/ },
    {
      name: 'enum',
      spec: { mode: 'c' },
      type: 'FieldValueNotSupported',
      field: 'spec.mode',
      message: /^Unsupported value: "c": supported values: "a", "b"$/,
    },
    { name: 'type', spec: { mode: 'a', count: 'one' }, type: 'FieldValueTypeInvalid', field: 'spec.count', message: /must be of type integer/ },
    { name: 'minimum', spec: { mode: 'a', count: 0 }, type: 'FieldValueInvalid', field: 'spec.count', message: /greater than or equal to 1/ },
    { name: 'int32', spec: { mode: 'a', count: 2 ** 40 }, type: 'FieldValueInvalid', field: 'spec.count', message: /int32/ },
    { name: 'maxLength', spec: { mode: 'a', label: 'abcd' }, type: 'FieldValueTooLong', field: 'spec.label', message: /at most|more than 3/ },
    { name: 'maxItems', spec: { mode: 'a', tags: ['a', 'b', 'c'] }, type: 'FieldValueTooMany', field: 'spec.tags' },
    { name: 'set duplicate', spec: { mode: 'a', tags: ['a', 'a'] }, type: 'FieldValueDuplicate', field: 'spec.tags[1]' },
    {
      name: 'map-list duplicate key',
      spec: { mode: 'a', items: [{ name: 'x' }, { name: 'x', weight: 2 }] },
      type: 'FieldValueDuplicate',
      field: 'spec.items[1]',
      message: /^Duplicate value: \{"name":"x"\}$/,
    },
    { name: 'nested in list', spec: { mode: 'a', items: [{ name: 'x' }, {}] }, type: 'FieldValueRequired', field: 'spec.items[1].name' },
    { name: 'map value', spec: { mode: 'a', labels: { 'a.b/c': 1 } }, type: 'FieldValueTypeInvalid', field: 'spec.labels[a.b/c]' },
    { name: 'int-or-string pattern', spec: { mode: 'a', size: '3Mi' }, type: 'FieldValueInvalid', field: 'spec.size', message: /should match/ },
    { name: 'int-or-string type', spec: { mode: 'a', size: true }, type: 'FieldValueTypeInvalid', field: 'spec.size', message: /integer or string/ },
    { name: 'date-time', spec: { mode: 'a', when: 'yesterday' }, type: 'FieldValueInvalid', field: 'spec.when', message: /date-time/ },
  ];
  for (const c of cases) {
    it(`reports ${c.name}`, () => {
      const errors = validate({ spec: c.spec });
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0]!.type, c.type);
      assert.equal(errors[0]!.field, c.field);
      if (c.message) assert.match(errors[0]!.message, c.message);
    });
  }

  it('reports every problem at once', () => {
    const errors = validate({ spec: { count: 0, label: 'abcd' } });
    assert.deepEqual(errors.map((e) => e.field).sort(), ['spec.count', 'spec.label', 'spec.mode']);
  });
});

describe('fieldPath', () => {
  it('turns JSON pointers into field paths', () => {
    assert.equal(fieldPath(schema, '/spec/items/1/name'), 'spec.items[1].name');
    assert.equal(fieldPath(schema, '/spec/labels/a~1b'), 'spec.labels[a/b]');
    assert.equal(fieldPath(schema, '/spec/unknown/x'), 'spec.unknown.x');
    assert.equal(fieldPath(schema, ''), '');
  });
});

describe('pruneUnknownFields', () => {
  it('removes undeclared fields and reports their paths', () => {
    const obj = {
      apiVersion: 'v',
      kind: 'K',
      metadata: { name: 'x', whatever: 1 },
      extra: 1,
      spec: {
        mode: 'a',
        bogus: { deep: true },
        items: [{ name: 'x' }, { name: 'y', junk: 1 }],
        labels: { any: 'thing' },
        free: { anything: 1, known: { dropped: 1 } },
      },
    };
    const pruned = pruneUnknownFields(schema, obj);
    assert.deepEqual(pruned.sort(), ['.extra', '.spec.bogus', '.spec.free.known.dropped', '.spec.items[1].junk']);
    assert.deepEqual(obj, {
      apiVersion: 'v',
      kind: 'K',
      metadata: { name: 'x', whatever: 1 },
      spec: { mode: 'a', items: [{ name: 'x' }, { name: 'y' }], labels: { any: 'thing' }, free: { anything: 1, known: {} } },
    });
  });

  it('leaves values of the wrong type for validation to report', () => {
    const obj = { spec: 'not an object' };
    assert.deepEqual(pruneUnknownFields(schema, obj), []);
    assert.deepEqual(obj, { spec: 'not an object' });
  });
});

describe('applySchemaDefaults', () => {
  it('defaults absent fields of existing objects, and inside defaults', () => {
    const obj: Record<string, any> = { spec: { mode: 'a', items: [{ name: 'x' }, { name: 'y', weight: 1 }] } };
    applySchemaDefaults(schema, obj);
    assert.deepEqual(obj.spec, {
      mode: 'a',
      count: 1,
      items: [
        { name: 'x', weight: 10 },
        { name: 'y', weight: 1 },
      ],
      nested: { inner: { on: true, level: 3 }, maybe: 'x', never: 'y' },
    });
  });

  it('replaces null unless the field is nullable', () => {
    const obj: Record<string, any> = { spec: { nested: { maybe: null, never: null } } };
    applySchemaDefaults(schema, obj);
    assert.equal(obj.spec.nested.maybe, null);
    assert.equal(obj.spec.nested.never, 'y');
  });

  it('does not create a parent that is absent and has no default', () => {
    const obj: Record<string, any> = {};
    applySchemaDefaults(schema, obj);
    assert.deepEqual(obj, {});
  });

  it('copies defaults rather than sharing them', () => {
    const a: Record<string, any> = { spec: {} };
    const b: Record<string, any> = { spec: {} };
    applySchemaDefaults(schema, a);
    applySchemaDefaults(schema, b);
    a.spec.nested.inner.on = false;
    assert.equal(b.spec.nested.inner.on, true);
  });
});

describe('schemaAndValidation', () => {
  const checked: KubeObject[] = [];
  const parts = schemaAndValidation(
    ResourceSchema('A Widget.', Type.Object({ size: Type.Integer({ minimum: 0 }) }), Type.Object({})),
    (obj: KubeObject & { spec: { size: number } }) => {
      checked.push(obj);
      return obj.spec.size > 9 ? [fieldForbidden('spec.size', 'must be a single digit')] : [];
    },
  );
  const widget = (size: unknown): KubeObject => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size } });

  it('publishes the JSON schema and its description', () => {
    assert.equal(parts.description, 'A Widget.');
    assert.equal(parts.schema.properties?.spec?.properties?.size?.type, 'integer');
  });

  const cases: [string, unknown, string[], number][] = [
    ['accepts what both accept', 3, [], 1],
    ['runs the semantic checks on what the schema accepts', 12, ['spec.size'], 1],
    ['answers schema errors alone, without the semantic checks', 'big', ['spec.size'], 0],
  ];
  for (const [name, size, fields, semanticRuns] of cases) {
    it(name, () => {
      checked.length = 0;
      assert.deepEqual(parts.validate(widget(size)).map((e) => e.field), fields);
      assert.equal(checked.length, semanticRuns);
    });
  }
});
