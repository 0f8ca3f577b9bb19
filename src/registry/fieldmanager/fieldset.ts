// A set of field paths stored as a trie (structured-merge-diff fieldpath/set.go). A node's `members` are the paths
// that end there; its `children` lead to deeper paths. Being a child does not make an element a member: `spec` can
// lead to `spec.replicas` without `spec` itself being owned. A set is built with `insert`/`descend`/`addMember` and
// then treated as a value: the algebra never mutates its operands and may share their subtrees.
import { compareElements, serializeElement, pathToString, type Path, type PathElement } from './path.ts';

interface Child {
  readonly pe: PathElement;
  readonly set: FieldSet;
}

export class FieldSet {
  // Keyed by the FieldsV1 serialization, which is canonical for equal elements.
  readonly #members = new Map<string, PathElement>();
  readonly #children = new Map<string, Child>();

  static of(...paths: Path[]): FieldSet {
    const set = new FieldSet();
    for (const p of paths) set.insert(p);
    return set;
  }

  /** Adds `path` (not its parents). The empty path names the whole object, which nobody owns. */
  insert(path: Path): void {
    if (path.length === 0) return;
    let node: FieldSet = this;
    for (const pe of path.slice(0, -1)) node = node.descend(pe);
    node.addMember(path[path.length - 1]!);
  }

  addMember(pe: PathElement): void {
    this.#members.set(serializeElement(pe), pe);
  }

  /** The subset under `pe`, created when missing. */
  descend(pe: PathElement): FieldSet {
    const k = serializeElement(pe);
    let child = this.#children.get(k);
    if (!child) {
      child = { pe, set: new FieldSet() };
      this.#children.set(k, child);
    }
    return child.set;
  }

  /** Replaces the subset under `pe`. */
  setChild(pe: PathElement, set: FieldSet): void {
    this.#children.set(serializeElement(pe), { pe, set });
  }

  hasMember(pe: PathElement): boolean {
    return this.#members.has(serializeElement(pe));
  }

  child(pe: PathElement): FieldSet | undefined {
    return this.#children.get(serializeElement(pe))?.set;
  }

  has(path: Path): boolean {
    if (path.length === 0) return false;
    let node: FieldSet | undefined = this;
    for (const pe of path.slice(0, -1)) {
      node = node.child(pe);
      if (!node) return false;
    }
    return node.hasMember(path[path.length - 1]!);
  }

  /** The paths under `pe`, without the prefix; empty when there are none. */
  withPrefix(pe: PathElement): FieldSet {
    return this.child(pe) ?? new FieldSet();
  }

  /** Members in path-element order. */
  members(): PathElement[] {
    return [...this.#members.values()].sort(compareElements);
  }

  /** Children in path-element order. */
  children(): Child[] {
    return [...this.#children.values()].sort((a, b) => compareElements(a.pe, b.pe));
  }

  empty(): boolean {
    if (this.#members.size > 0) return false;
    for (const { set } of this.#children.values()) if (!set.empty()) return false;
    return true;
  }

  size(): number {
    let n = this.#members.size;
    for (const { set } of this.#children.values()) n += set.size();
    return n;
  }

  union(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const pe of [...this.#members.values(), ...other.#members.values()]) out.addMember(pe);
    for (const [k, c] of this.#children) {
      const o = other.#children.get(k);
      out.#children.set(k, o ? { pe: c.pe, set: c.set.union(o.set) } : c);
    }
    for (const [k, o] of other.#children) if (!this.#children.has(k)) out.#children.set(k, o);
    return out;
  }

  /** Paths in both sets. */
  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) if (other.#members.has(k)) out.#members.set(k, pe);
    for (const [k, c] of this.#children) {
      const o = other.#children.get(k);
      if (!o) continue;
      const both = c.set.intersection(o.set);
      if (!both.empty()) out.#children.set(k, { pe: c.pe, set: both });
    }
    return out;
  }

  /** Paths of this set not in `other`; a member of `other` does not remove paths below it. */
  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) if (!other.#members.has(k)) out.#members.set(k, pe);
    for (const [k, c] of this.#children) {
      const o = other.#children.get(k);
      if (!o) {
        out.#children.set(k, c);
        continue;
      }
      const rest = c.set.difference(o.set);
      if (!rest.empty()) out.#children.set(k, { pe: c.pe, set: rest });
    }
    return out;
  }

  /** Like `difference`, but a member of `other` also removes every path below it. */
  recursiveDifference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) if (!other.#members.has(k)) out.#members.set(k, pe);
    for (const [k, c] of this.#children) {
      if (other.#members.has(k)) continue;
      const o = other.#children.get(k);
      if (!o) {
        out.#children.set(k, c);
        continue;
      }
      const rest = c.set.recursiveDifference(o.set);
      if (!rest.empty()) out.#children.set(k, { pe: c.pe, set: rest });
    }
    return out;
  }

  /** Only the paths that have nothing below them. */
  leaves(): FieldSet {
    const out = new FieldSet();
    for (const [k, pe] of this.#members) if (!this.#children.has(k)) out.#members.set(k, pe);
    for (const [k, c] of this.#children) out.#children.set(k, { pe: c.pe, set: c.set.leaves() });
    return out;
  }

  equals(other: FieldSet): boolean {
    if (this.#members.size !== other.#members.size || this.#children.size !== other.#children.size) return false;
    for (const k of this.#members.keys()) if (!other.#members.has(k)) return false;
    for (const [k, c] of this.#children) {
      const o = other.#children.get(k);
      if (!o || !c.set.equals(o.set)) return false;
    }
    return true;
  }

  /** Every path, members of a node before the paths below its children, each level in path-element order. */
  paths(): Path[] {
    const out: Path[] = [];
    const walk = (node: FieldSet, prefix: Path) => {
      for (const pe of node.members()) out.push([...prefix, pe]);
      for (const c of node.children()) walk(c.set, [...prefix, c.pe]);
    };
    walk(this, []);
    return out;
  }

  toString(): string {
    return this.paths().map(pathToString).join('\n');
  }
}
