// YAML to JSON within bounds: one cheap pass of the lexer refuses a document beyond them before it is composed. Run
// in the server for small bodies and in yaml.child.ts for the rest (see yaml.ts).
import { CST, Lexer, parse } from 'yaml';

export interface YamlBounds {
  maxDepth: number;
  maxNodes: number;
}

/** `beyond` says which bound the document exceeded; without it the error is the parser's. */
export type YamlOutcome = { json: string } | { error: string; beyond?: 'nodes' | 'depth' };

/**
 * Why the document is beyond the bounds, or undefined. Nodes are counted as scalars, flow collections and block
 * entries; depth as the open flow collections plus the block indentation levels and indicators of the current
 * line — an upper bound of the real nesting, which is what matters before composing.
 */
function exceedsBounds(text: string, { maxDepth, maxNodes }: YamlBounds): { error: string; beyond: 'nodes' | 'depth' } | undefined {
  let nodes = 0;
  let flowDepth = 0;
  const indents: number[] = [];
  let lineIndicators = 0;
  let atLineStart = true;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'newline') {
      atLineStart = true;
      lineIndicators = 0;
      continue;
    }
    if (atLineStart) {
      atLineStart = false;
      const indent = type === 'space' ? token.length : 0;
      while (indents.length > 0 && indents.at(-1)! >= indent) indents.pop();
      indents.push(indent);
    }
    switch (type) {
      case 'flow-map-start':
      case 'flow-seq-start':
        flowDepth++;
        nodes++;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        flowDepth--;
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'map-value-ind':
        lineIndicators++;
        nodes++;
        break;
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'alias':
        nodes++;
        break;
    }
    if (nodes > maxNodes) return { error: `it has more than ${maxNodes} nodes`, beyond: 'nodes' };
    if (flowDepth + indents.length + lineIndicators > maxDepth) return { error: `exceeded max depth of ${maxDepth}`, beyond: 'depth' };
  }
  return undefined;
}

export function decode({ text, ...bounds }: YamlBounds & { text: string }): YamlOutcome {
  const beyond = exceedsBounds(text, bounds);
  if (beyond) return beyond;
  try {
    // Duplicate keys: the last one wins, as in kube-apiserver's YAML decoding (and checking them is quadratic here).
    return { json: JSON.stringify(parse(text, { maxAliasCount: 100, merge: false, uniqueKeys: false }) ?? null) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
