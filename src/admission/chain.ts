// Runs an admission chain as kube-apiserver's admission handler does: every mutating plugin that handles the request,
// in order, each seeing the object the previous one answered; then every validating plugin, which may only refuse
// or warn. A refusal is the StatusError a plugin throws, answered to the client as it is.
import type { KubeObject } from '../api/meta.ts';
import type { AdmissionAttributes, AdmissionChain } from './interface.ts';

export interface MutationOutcome {
  /** The object after every mutating plugin (undefined when the request carries none, as a DELETE). */
  object: KubeObject | undefined;
  warnings: string[];
}

/** Where the annotations plugins add for the audit log go, with the request they were made for. */
export type AuditAnnotationSink = (attributes: AdmissionAttributes, annotations: Record<string, string>) => void;

export class Admission {
  readonly chain: AdmissionChain;
  private readonly audit: AuditAnnotationSink;

  constructor(chain: AdmissionChain = { mutating: [], validating: [] }, audit: AuditAnnotationSink = () => {}) {
    this.chain = chain;
    this.audit = audit;
  }

  async mutate(attributes: AdmissionAttributes): Promise<MutationOutcome> {
    const warnings: string[] = [];
    let current = attributes;
    for (const plugin of this.chain.mutating) {
      if (!plugin.handles(current)) continue;
      const response = await plugin.admit(current);
      warnings.push(...(response.warnings ?? []));
      this.record(current, response.auditAnnotations);
      if (response.object) current = { ...current, object: response.object };
    }
    return { object: current.object, warnings };
  }

  async validate(attributes: AdmissionAttributes): Promise<string[]> {
    const warnings: string[] = [];
    for (const plugin of this.chain.validating) {
      if (!plugin.handles(attributes)) continue;
      const response = await plugin.validate(attributes);
      warnings.push(...(response.warnings ?? []));
      this.record(attributes, response.auditAnnotations);
    }
    return warnings;
  }

  private record(attributes: AdmissionAttributes, annotations: Record<string, string> | undefined): void {
    if (annotations && Object.keys(annotations).length > 0) this.audit(attributes, annotations);
  }
}

/** The chains one after the other: built-in plugins first, then what cluster mode or the embedder adds. */
export function concatChains(...chains: Array<Partial<AdmissionChain> | undefined>): AdmissionChain {
  return {
    mutating: chains.flatMap((c) => c?.mutating ?? []),
    validating: chains.flatMap((c) => c?.validating ?? []),
  };
}
