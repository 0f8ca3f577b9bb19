// How Backups and Restores point at their Database, and what the databases/backup and databases/restore actions
// share: the posted body becomes an object that points at the database named in the URL (as pods/eviction does).
import { Type } from '@sinclair/typebox';
import { badRequest, invalid } from './errors.ts';
import { DNS1035_LABEL_PATTERN, fieldInvalid } from './field.ts';
import { DATABASE_LABEL } from '../engines/common.ts';
import { GROUP, GROUP_VERSION, type KubeObject, type ObjectMeta } from './meta.ts';

/** A Database name names a Service (DNS-1035) and a StatefulSet, whose revision label leaves it 52 characters. */
export const MAX_DATABASE_NAME = 52;

/** A field naming a Database in the same namespace. */
export function DatabaseName(description: string) {
  return Type.String({ description, maxLength: MAX_DATABASE_NAME, pattern: DNS1035_LABEL_PATTERN });
}

/**
 * The label every Backup and Restore carries, so `-l strongroom.dev/database=orders` lists a database's history; the
 * same the engines put on a Database's children.
 */
export { DATABASE_LABEL };

/**
 * The object of `kind` a POST to `databases/<db>/<action>` creates: the body's metadata and spec, in the database's
 * namespace, named `<db>-<random>` unless the body names it (or asks for another generateName), labelled with the database, `spec.databaseName` set.
 */
export function objectForDatabase(parent: KubeObject, body: KubeObject | undefined, kind: string): KubeObject {
  const database = parent.metadata.name as string;
  const namespace = parent.metadata.namespace;
  const bodyMeta: ObjectMeta = body?.metadata ?? {};
  const spec: Record<string, unknown> = { ...(body?.spec ?? {}) };
  if (bodyMeta.namespace !== undefined && bodyMeta.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  if (spec.databaseName !== undefined && spec.databaseName !== database) {
    throw invalid(kind, GROUP, bodyMeta.name ?? '', [
      fieldInvalid('spec.databaseName', spec.databaseName, `must be "${database}", the database in the request URL, or be left out`),
    ]);
  }
  const metadata: ObjectMeta = {
    ...bodyMeta,
    namespace,
    labels: { ...bodyMeta.labels, [DATABASE_LABEL]: database },
  };
  if (!metadata.name && !metadata.generateName) metadata.generateName = `${database}-`;
  return { apiVersion: GROUP_VERSION, kind, metadata, spec: { ...spec, databaseName: database } };
}
