// The image catalog: which image runs each engine version, operator-wide. Each engine names its default (its
// official image, `Engine.defaultImage`); a catalog maps version prefixes to other images — a company's registry, an
// air-gapped mirror, hardened builds — and names the backup agent's image. Engines state their own commands and
// call their binaries through PATH, so any image with the engine's binaries on PATH and its user works.
//
//   engines:
//     postgres: {"17": "registry.example/postgres:17.6", "15": "registry.example/postgres:15.14"}
//     redis: {"7": "registry.example/redis:7.4.2"}
//   agent: registry.example/strongroom:0.1.0
//
// A key matches a version equal to it or starting with it and a dot ("17" matches "17" and "17.2", "7" matches
// "7.2.5"); the longest matching key wins.
import { parse } from 'yaml';
import type { Engine } from './engine.ts';
import { ENGINE_NAMES, isEngine } from './registry.ts';

/** The ConfigMap in the server's namespace that overrides the catalog file, and its data key. */
export const IMAGE_CATALOG_CONFIGMAP = 'strongroom-images';
export const IMAGE_CATALOG_KEY = 'catalog.yaml';

export interface ImageCatalog {
  /** Engine name → version prefix → image. */
  engines: Record<string, Record<string, string>>;
  /** The backup agent's image. */
  agent?: string;
}

export const EMPTY_CATALOG: ImageCatalog = { engines: {} };

/**
 * An image reference as container runtimes take it: `[registry[:port]/]path[:tag][@digest]`, lower-case path
 * components (docker/distribution's reference grammar, without its 255-character name limit check).
 */
export const IMAGE_REFERENCE_PATTERN =
  '^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$';
const IMAGE_REFERENCE = new RegExp(IMAGE_REFERENCE_PATTERN);

export function isImageReference(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 4096 && IMAGE_REFERENCE.test(value);
}

/** Parses and checks a catalog document; the message of what it throws names `source` and the bad entry. */
export function parseImageCatalog(text: string, source: string): ImageCatalog {
  const fail = (problem: string): never => {
    throw new Error(`image catalog ${source}: ${problem}`);
  };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return fail(`not YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return EMPTY_CATALOG;
  if (typeof doc !== 'object' || Array.isArray(doc)) return fail('must be a map with the keys engines and agent');
  const { engines = {}, agent, ...rest } = doc as Record<string, unknown>;
  for (const key of Object.keys(rest)) fail(`unknown key ${key}: only engines and agent`);
  if (agent !== undefined && !isImageReference(agent)) fail(`agent: ${JSON.stringify(agent)} is not an image reference`);
  if (typeof engines !== 'object' || engines === null || Array.isArray(engines)) return fail('engines must be a map of engine names');
  const catalog: ImageCatalog = { engines: {}, ...(agent === undefined ? {} : { agent: agent as string }) };
  for (const [engine, versions] of Object.entries(engines)) {
    if (!isEngine(engine)) fail(`engines.${engine}: not an engine (${ENGINE_NAMES.join(', ')})`);
    if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) fail(`engines.${engine} must map version prefixes to images`);
    const images: Record<string, string> = {};
    for (const [prefix, image] of Object.entries(versions as Record<string, unknown>)) {
      if (!/^\d+(\.\d+)*$/.test(prefix)) fail(`engines.${engine}: ${JSON.stringify(prefix)} is not a version prefix such as "17" or "7.2"`);
      if (!isImageReference(image)) fail(`engines.${engine}.${prefix}: ${JSON.stringify(image)} is not an image reference`);
      images[prefix] = image as string;
    }
    catalog.engines[engine] = images;
  }
  return catalog;
}

/** `over`'s entries over `base`'s, engine by engine and version prefix by version prefix. */
export function mergeCatalogs(base: ImageCatalog, over: ImageCatalog): ImageCatalog {
  const engines: Record<string, Record<string, string>> = { ...base.engines };
  for (const [engine, images] of Object.entries(over.engines)) engines[engine] = { ...engines[engine], ...images };
  const agent = over.agent ?? base.agent;
  return { engines, ...(agent === undefined ? {} : { agent }) };
}

/** The image of `version` of `engine`: the catalog's longest matching prefix, else the engine's default. */
export function catalogImage(catalog: ImageCatalog, engine: Engine, version: string): string {
  let best: string | undefined;
  for (const prefix of Object.keys(catalog.engines[engine.name] ?? {})) {
    if ((version === prefix || version.startsWith(`${prefix}.`)) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best === undefined ? engine.defaultImage(version) : catalog.engines[engine.name]![best]!;
}
