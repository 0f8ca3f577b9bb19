// The FieldsV1 wire form of a field set (structured-merge-diff fieldpath/serialize.go): a trie whose keys are
// serialized path elements; `{}` marks a member, and `"."` marks a node that is a member and also has children.
import type { FieldsV1 } from '../../api/meta.ts';
import { FieldSet } from './fieldset.ts';
import { compareElements, deserializeElement, serializeElement } from './path.ts';

export function toFieldsV1(set: FieldSet): FieldsV1 {
  return emit(set, false);
}

function emit(set: FieldSet, includeSelf: boolean): FieldsV1 {
  const out: FieldsV1 = {};
  const members = set.members();
  const children = set.children();
  if (includeSelf && (members.length > 0 || children.length > 0)) out['.'] = {};
  let m = 0;
  let c = 0;
  while (m < members.length || c < children.length) {
    const order = m >= members.length ? 1 : c >= children.length ? -1 : compareElements(members[m]!, children[c]!.pe);
    if (order < 0) {
      out[serializeElement(members[m++]!)] = {};
    } else if (order > 0) {
      const child = children[c++]!;
      out[serializeElement(child.pe)] = emit(child.set, false);
    } else {
      const child = children[c++]!;
      m++;
      out[serializeElement(child.pe)] = emit(child.set, true);
    }
  }
  return out;
}

/** Thrown for FieldsV1 that cannot be read; upstream then treats the whole managedFields list as undecodable. */
export class FieldsV1Error extends Error {}

/** Reads FieldsV1 (already parsed JSON). Keys with an unknown type letter are dropped, as upstream does. */
export function fromFieldsV1(fields: unknown): FieldSet {
  return read(fields, '').children ?? new FieldSet();
}

function read(node: unknown, where: string): { children: FieldSet | undefined; isMember: boolean } {
  // jsoniter reads `null` as an object without keys.
  if (node === null) return { children: undefined, isMember: true };
  if (typeof node !== 'object' || Array.isArray(node)) {
    throw new FieldsV1Error(`ReadMapCB: expect { or n, but found ${Array.isArray(node) ? '[' : JSON.stringify(node)?.[0]}${where ? ` at ${where}` : ''}`);
  }
  let children: FieldSet | undefined;
  let isMember = false;
  for (const [k, v] of Object.entries(node)) {
    if (k === '.') {
      isMember = true;
      continue;
    }
    let pe;
    try {
      pe = deserializeElement(k);
    } catch (err) {
      throw new FieldsV1Error(`parsing key as path element: ${(err as Error).message}`);
    }
    if (!pe) continue;
    const inner = read(v, `${where}/${k}`);
    if (inner.isMember) (children ??= new FieldSet()).addMember(pe);
    if (inner.children) (children ??= new FieldSet()).setChild(pe, inner.children);
  }
  return { children, isMember: isMember || children === undefined };
}
