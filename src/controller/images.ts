// The image catalog as the controller uses it: the file given with --image-catalog, overridden entry by entry by the
// ConfigMap `strongroom-images` in the server's namespace (read through an informer, so an edit takes effect on the
// next reconcile), over the engines' own defaults. A ConfigMap that does not parse is ignored, with a warning in the
// log, and the file's catalog holds.
import type { Logger } from 'pino';
import type { Database } from '../api/database.ts';
import type { KubeObject } from '../api/meta.ts';
import { catalogImage, EMPTY_CATALOG, IMAGE_CATALOG_CONFIGMAP, IMAGE_CATALOG_KEY, mergeCatalogs, parseImageCatalog, type ImageCatalog } from '../engines/catalog.ts';
import type { Engine } from '../engines/engine.ts';
import type { Informer } from './runtime/cache.ts';

/** The image of this release, which holds the agent and the engines' client tools (apiservice/Dockerfile). */
export const DEFAULT_AGENT_IMAGE = 'ghcr.io/strongroom/strongroom:v0.1.0';

export interface ImageCatalogSourceOptions {
  /** From the catalog file. */
  file?: ImageCatalog;
  /** ConfigMaps of the server's namespace (only `strongroom-images` is read). */
  configMaps?: Informer;
  namespace?: string;
  /** The agent image when no catalog names one (--agent-image); this release's when unset. */
  agentImage?: string;
  logger?: Logger;
}

export class ImageCatalogSource {
  private readonly options: ImageCatalogSourceOptions;
  /** The ConfigMap last parsed, by resourceVersion, so a bad one is warned about once. */
  private parsed: { resourceVersion: string | undefined; catalog: ImageCatalog } | undefined;

  constructor(options: ImageCatalogSourceOptions) {
    this.options = options;
  }

  /** The catalog in force now. */
  current(): ImageCatalog {
    const file = this.options.file ?? EMPTY_CATALOG;
    const configMap = this.options.configMaps?.get(this.options.namespace, IMAGE_CATALOG_CONFIGMAP);
    return configMap ? mergeCatalogs(file, this.fromConfigMap(configMap)) : file;
  }

  /** The image the members of `db` run at `version`: spec.image, else the catalog's. */
  imageFor(engine: Engine, db: Database, version: string): string {
    return db.spec.image ?? catalogImage(this.current(), engine, version);
  }

  agentImage(): string {
    return this.current().agent ?? this.options.agentImage ?? DEFAULT_AGENT_IMAGE;
  }

  private fromConfigMap(configMap: KubeObject): ImageCatalog {
    const resourceVersion = configMap.metadata.resourceVersion;
    if (this.parsed && this.parsed.resourceVersion === resourceVersion) return this.parsed.catalog;
    const text = (configMap.data as Record<string, string> | undefined)?.[IMAGE_CATALOG_KEY] ?? '';
    let catalog = EMPTY_CATALOG;
    try {
      catalog = parseImageCatalog(text, `ConfigMap ${configMap.metadata.namespace}/${IMAGE_CATALOG_CONFIGMAP} key ${IMAGE_CATALOG_KEY}`);
    } catch (err) {
      this.options.logger?.warn({ err }, 'ignoring the image catalog ConfigMap');
    }
    this.parsed = { resourceVersion, catalog };
    return catalog;
  }
}
