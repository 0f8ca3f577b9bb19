// Every served resource's store, by plural name, over one storage.
import type { ResourceDefinition } from '../api/definition.ts';
import type { Storage } from '../storage/interface.ts';
import { ResourceStore, type StoreOptions } from './store.ts';

export class Registry {
  private readonly stores = new Map<string, ResourceStore>();

  constructor(definitions: ResourceDefinition[], storage: Storage, options: StoreOptions = {}) {
    for (const def of definitions) this.stores.set(def.plural, new ResourceStore(def, storage, options));
  }

  store(plural: string): ResourceStore | undefined {
    return this.stores.get(plural);
  }

  all(): ResourceStore[] {
    return [...this.stores.values()];
  }
}
