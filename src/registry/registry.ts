// Every served resource's store, by plural name, over one storage.
import type { ObjectLookup, ResourceDefinition } from '../api/definition.ts';
import { Admission, type AuditAnnotationSink } from '../admission/chain.ts';
import type { AdmissionChain } from '../admission/interface.ts';
import type { Storage } from '../storage/interface.ts';
import { ResourceStore } from './store.ts';

export interface RegistryOptions {
  /** The admission chain of every write, built with the registry's lookup so that plugins can read other objects. */
  admission?: (lookup: ObjectLookup) => AdmissionChain;
  /** Where plugins' audit annotations go (nowhere by default). */
  auditAnnotations?: AuditAnnotationSink;
  now?: () => Date;
}

export class Registry {
  private readonly stores = new Map<string, ResourceStore>();

  constructor(definitions: ResourceDefinition[], storage: Storage, options: RegistryOptions = {}) {
    const admission = new Admission(options.admission?.(this.lookup), options.auditAnnotations);
    for (const def of definitions) this.stores.set(def.plural, new ResourceStore(def, storage, { admission, now: options.now }));
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
