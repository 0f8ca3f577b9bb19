// Every served resource's store, by plural name, over one storage.
import type { ObjectLookup, ResourceDefinition } from '../api/definition.ts';
import type { Storage } from '../storage/interface.ts';
import { ResourceStore, type StoreOptions } from './store.ts';

export class Registry {
  private readonly stores = new Map<string, ResourceStore>();

  constructor(definitions: ResourceDefinition[], storage: Storage, options: StoreOptions = {}) {
    for (const def of definitions) this.stores.set(def.plural, new ResourceStore(def, storage, { ...options, lookup: this.lookup }));
  }

  /** An object of any served resource as stored now, for checks and answers that depend on other objects. */
  readonly lookup: ObjectLookup = async (plural, namespace, name) => {
    const store = this.stores.get(plural);
    if (!store) throw new Error(`no served resource is called ${plural}`);
    return store.read(store.key(namespace, name));
  };

  store(plural: string): ResourceStore | undefined {
    return this.stores.get(plural);
  }

  all(): ResourceStore[] {
    return [...this.stores.values()];
  }
}
