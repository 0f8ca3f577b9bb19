// The controller's access to Strongroom's own objects (Database, Backup, Restore): in process, through the same
// registry store the API serves from, so every write takes the API's path (strategy, validation, managedFields,
// optimistic concurrency) without a round trip through the aggregator. Status is written only through the status
// subresource; metadata (finalizers, the controller's annotations) through guarded patches.
import type { Operation } from 'fast-json-patch';
import { StatusError } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import type { ResourceStore, WriteOptions } from '../registry/store.ts';
import type { UserInfo } from '../server/authentication.ts';

/** The field manager of the controller's writes to our own objects (children are written as `strongroom`). */
export const CONTROLLER_FIELD_MANAGER = 'strongroom-controller';

/**
 * Who admission sees writing: the server itself, as a k8s.io/apiserver server's loopback client is
 * (`system:apiserver` in `system:masters`), so cluster policies can tell the controller's writes from users'.
 */
export const CONTROLLER_USER: UserInfo = { name: 'system:apiserver', groups: ['system:authenticated', 'system:masters'], extra: {} };

const WRITE: WriteOptions & { force: boolean } = {
  dryRun: false,
  fieldManager: CONTROLLER_FIELD_MANAGER,
  fieldValidation: 'Strict',
  force: false,
  user: CONTROLLER_USER,
};

export class OwnObjects<T extends KubeObject = KubeObject> {
  readonly store: ResourceStore;

  constructor(store: ResourceStore) {
    this.store = store;
  }

  /** The object as stored now (not as a cache last saw it), or undefined. */
  async get(namespace: string | undefined, name: string): Promise<T | undefined> {
    return (await this.store.read(this.store.key(namespace, name))) as T | undefined;
  }

  /** Creates `obj` in its namespace; 409 AlreadyExists when the name is taken. */
  async create(obj: T): Promise<T> {
    return (await this.store.create(obj.metadata.namespace, structuredClone(obj), WRITE)).object as T;
  }

  /** Deletes `obj` if it is still the same object (its uid); one already gone counts as deleted. */
  async delete(obj: T): Promise<void> {
    const { namespace, name, uid } = obj.metadata;
    try {
      await this.store.delete(namespace, name!, { dryRun: false, preconditions: { uid }, propagationPolicy: 'Background' }, CONTROLLER_USER);
    } catch (err) {
      if (!(err instanceof StatusError && err.code === 404)) throw err;
    }
  }

  /** A JSON patch of the main resource; guard it with a `test` to fail on a concurrent change. */
  async patch(obj: T, operations: Operation[]): Promise<T> {
    const { namespace, name } = obj.metadata;
    return (await this.store.patch(namespace, name!, 'json', structuredClone(operations), '', WRITE)).object as T;
  }

  /** Replaces the status, guarded by the object's resourceVersion (409 Conflict when it moved). */
  async updateStatus(obj: T, status: T['status']): Promise<T> {
    const { namespace, name } = obj.metadata;
    // A copy: decoding prunes and fills in the body in place, and `obj` may be shared with the storage's cache.
    return (await this.store.update(namespace, name!, structuredClone({ ...obj, status }), 'status', WRITE)).object as T;
  }
}
