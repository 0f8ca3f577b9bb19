// Content negotiation: which representation a client asked for (Accept) and how to read the body (Content-Type).
import { notAcceptable, unsupportedMediaType } from '../api/errors.ts';

export type Representation =
  | { as: 'object'; format: 'json' | 'yaml' }
  | { as: 'Table'; version: 'v1' | 'v1beta1' }
  | { as: 'PartialObjectMetadata'; version: 'v1' | 'v1beta1' }
  | { as: 'PartialObjectMetadataList'; version: 'v1' | 'v1beta1' };

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export const ACCEPTED_OUTPUT_TYPES = ['application/json', 'application/yaml', 'application/json;as=Table;v=v1;g=meta.k8s.io'];

export function parseMediaRanges(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim());
      const parsed: Record<string, string> = {};
      for (const p of params) {
        const eq = p.indexOf('=');
        if (eq > 0) parsed[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
      }
      return { type: type.toLowerCase(), params: parsed };
    })
    .filter((r) => r.type !== '');
}

/**
 * Picks the first acceptable representation in the client's order. `kind` says what the endpoint returns: the
 * metadata forms are only valid for the matching shape (an item for PartialObjectMetadata, a list for …List), as in
 * k8s.io/apiserver's handlers; a protobuf range is skipped because clients always list JSON after it.
 */
export function negotiateOutput(accept: string | undefined, shape: 'item' | 'list'): Representation {
  const ranges = parseMediaRanges(accept);
  if (ranges.length === 0) return { as: 'object', format: 'json' };
  for (const r of ranges) {
    const as = r.params['as'];
    if (as) {
      if (r.type !== 'application/json' || r.params['g'] !== 'meta.k8s.io') continue;
      const version = r.params['v'];
      if (version !== 'v1' && version !== 'v1beta1') continue;
      if (as === 'Table') return { as: 'Table', version };
      if (as === 'PartialObjectMetadata' && shape === 'item') return { as, version };
      if (as === 'PartialObjectMetadataList' && shape === 'list') return { as, version };
      continue;
    }
    if (r.type === 'application/json' || r.type === '*/*' || r.type === 'application/*') return { as: 'object', format: 'json' };
    if (r.type === 'application/yaml') return { as: 'object', format: 'yaml' };
  }
  throw notAcceptable(ACCEPTED_OUTPUT_TYPES);
}

export type BodyFormat = 'json' | 'yaml';
export type PatchType = 'merge' | 'json' | 'apply';

export const PATCH_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/apply-patch+yaml': 'apply',
};

const BODY_TYPES: Record<string, BodyFormat> = { 'application/json': 'json', 'application/yaml': 'yaml', '*/*': 'json' };

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** How to read a create/update body. An absent Content-Type means JSON, as client-go sends raw bodies without one. */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  const type = mediaType(contentType);
  if (type === '') return 'json';
  const format = BODY_TYPES[type];
  if (!format) throw unsupportedMediaType(type, Object.keys(BODY_TYPES).filter((t) => t !== '*/*'));
  return format;
}

export function patchType(contentType: string | undefined): PatchType {
  const type = mediaType(contentType);
  const patch = PATCH_TYPES[type];
  // Strategic merge patch lands here too: like kube-apiserver for CRDs we answer 415, which makes the garbage
  // collector and kubectl fall back to a merge patch.
  if (!patch) throw unsupportedMediaType(type, Object.keys(PATCH_TYPES));
  return patch;
}
