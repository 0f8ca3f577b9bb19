// Which engine version the children are rendered with. A new patch or minor of the same major rolls the members; a
// new major is refused (the data files need a conversion, which comes with backups), and the members keep the
// version they run. "The version they run" is the one the StatefulSet was last rendered with, recorded on it, or
// else the status's currentVersion (a StatefulSet deleted by hand loses its annotation, not the data's version).
import type { Database } from '../../api/database.ts';
import type { KubeObject } from '../../api/meta.ts';
import { versionOf } from '../../engines/common.ts';
import type { Engine } from '../../engines/engine.ts';

/** On the StatefulSet (not its pod template, so writing it rolls nothing): the version the template runs. */
export const VERSION_ANNOTATION = 'strongroom.dev/version';

export interface VersionChoice {
  /** What to render the children with. */
  version: string;
  /** spec.version, when it is a major upgrade from what runs and so was not rendered. */
  refused?: string;
}

export function chooseVersion(engine: Engine, db: Database, statefulSet: KubeObject | undefined): VersionChoice {
  const wanted = versionOf(db, engine.spec.defaultVersion);
  const running = statefulSet?.metadata.annotations?.[VERSION_ANNOTATION] ?? db.status?.currentVersion;
  if (running === undefined || running === wanted) return { version: wanted };
  return engine.upgradeKind(running, wanted) === 'major' ? { version: running, refused: wanted } : { version: wanted };
}

/** `statefulSet` with the version it runs recorded on it. */
export function withVersion(statefulSet: KubeObject, version: string): KubeObject {
  const metadata = statefulSet.metadata;
  return { ...statefulSet, metadata: { ...metadata, annotations: { ...metadata.annotations, [VERSION_ANNOTATION]: version } } };
}
