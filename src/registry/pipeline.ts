// The one order of steps every write goes through, whichever way it arrives (POST, PUT, merge or JSON patch,
// server-side apply, /status, /scale, an action subresource's object), as k8s.io/apiserver's handlers and
// genericregistry.Store run them around BeforeCreate / BeforeUpdate:
//
//   create: namespace from the URL → defaults → field manager → mutating admission → system fields (uid, name from
//           generateName) → prepareForCreate → validation → warnings → validating admission
//   update: defaults → field manager → mutating admission → prepareForUpdate → validation → warnings → validating
//           admission
//
// The store reads before and persists after; nothing here touches storage. A dry run goes through every step.
import type { ResourceDefinition } from '../api/definition.ts';
import { badRequest } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import type { Admission } from '../admission/chain.ts';
import type { AdmissionAttributes, AdmissionOperation } from '../admission/interface.ts';
import type { UserInfo } from '../server/authentication.ts';
import { fieldManagerScope, update as updateFields, type FieldManagerScope } from './fieldmanager/index.ts';
import type { DeleteOptions, FieldValidation } from './options.ts';
import { fromScale, SCALE_KIND, toScale, type Scale } from './scale.ts';
import { applyDefaults, ensureNamespace, fillSystemFields, prepareForCreate, prepareForUpdate, validateCreate, validateUpdate } from './strategy.ts';

/** What a write request says besides its body, and who sends it. */
export interface WriteRequest {
  dryRun: boolean;
  fieldManager: string;
  fieldValidation: FieldValidation;
  user: UserInfo;
}

/** The subresources that write the object itself. */
export type WriteSubresource = '' | 'status' | 'scale';

export interface WriteOutcome {
  /** The object to store. */
  object: KubeObject;
  warnings: string[];
}

export interface PipelineInput {
  /** Warnings found while decoding the body (unknown fields), answered first. */
  warnings: string[];
  /** True when server-side apply has already recorded the write in managedFields. */
  applied: boolean;
}

/** How admission sees a subresource's objects: /scale as autoscaling/v1 Scale, as kube-apiserver shows it for a CRD. */
interface AdmissionView {
  toAdmission(obj: KubeObject): KubeObject;
  fromAdmission(admitted: KubeObject, obj: KubeObject): KubeObject;
}

const META_V1 = 'meta.k8s.io/v1';

export class WritePipeline {
  private readonly def: ResourceDefinition;
  private readonly admission: Admission;
  private readonly now: () => Date;
  private readonly scope: FieldManagerScope;

  constructor(def: ResourceDefinition, admission: Admission, now: () => Date) {
    this.def = def;
    this.admission = admission;
    this.now = now;
    this.scope = fieldManagerScope(def);
  }

  async create(obj: KubeObject, namespace: string | undefined, request: WriteRequest, input: PipelineInput): Promise<WriteOutcome> {
    const now = this.now();
    ensureNamespace(this.def, obj, namespace);
    applyDefaults(this.def, obj);
    const managed = input.applied ? obj : updateFields({ ...this.scope, live: undefined, updated: obj, manager: request.fieldManager, now }).object;
    const options = writeOptions('CreateOptions', request);
    const mutation = await this.admission.mutate(this.attributes('CREATE', '', managed, managed, undefined, request, options));
    const object = mutation.object!;
    fillSystemFields(object, now);
    prepareForCreate(this.def, object);
    validateCreate(this.def, object);
    const warnings = [...input.warnings, ...mutation.warnings, ...this.def.warnings(object)];
    warnings.push(...(await this.admission.validate(this.attributes('CREATE', '', object, object, undefined, request, options))));
    return { object, warnings };
  }

  async update(current: KubeObject, obj: KubeObject, subresource: WriteSubresource, request: WriteRequest, input: PipelineInput): Promise<WriteOutcome> {
    applyDefaults(this.def, obj);
    const managed = input.applied
      ? obj
      : updateFields({ ...this.scope, live: current, updated: obj, manager: request.fieldManager, subresource, now: this.now() }).object;
    const view = this.view(subresource);
    const options = writeOptions('UpdateOptions', request);
    const admitted = view.toAdmission(managed);
    const mutation = await this.admission.mutate(this.attributes('UPDATE', subresource, current, admitted, view.toAdmission(current), request, options));
    const mutated = mutation.object === admitted ? managed : view.fromAdmission(mutation.object!, managed);
    const object = prepareForUpdate(this.def, mutated, current, subresource);
    validateUpdate(this.def, object, current);
    // As a CRD's status strategy, a status write is not warned about the spec it cannot change.
    const warnings = [...input.warnings, ...mutation.warnings, ...(subresource === 'status' ? [] : this.def.warnings(object))];
    const attributes = this.attributes('UPDATE', subresource, current, view.toAdmission(object), view.toAdmission(current), request, options);
    warnings.push(...(await this.admission.validate(attributes)));
    return { object, warnings };
  }

  /** Admission of a DELETE of `current` (a collection delete asks once per object); answers the warnings. */
  async delete(current: KubeObject, options: DeleteOptions, user: UserInfo): Promise<string[]> {
    const deleteOptions: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: META_V1, ...withoutDryRun(options), ...dryRunOption(options.dryRun) };
    const request = { dryRun: options.dryRun, user };
    const attributes = this.attributes('DELETE', '', current, undefined, current, request, deleteOptions);
    const mutation = await this.admission.mutate(attributes);
    return [...mutation.warnings, ...(await this.admission.validate(attributes))];
  }

  /**
   * Admission of an action subresource (databases/backup) as a connect request on the parent, with the posted body;
   * the object the action then creates goes through its own resource's create. Answers the body as admitted.
   */
  async connect(parent: KubeObject, subresource: string, kind: string, body: KubeObject | undefined, request: WriteRequest): Promise<{ body: KubeObject | undefined; warnings: string[] }> {
    const attributes: AdmissionAttributes = {
      ...this.attributes('CONNECT', subresource, parent, body, undefined, request, writeOptions('CreateOptions', request)),
      kind: { group: this.def.group, version: this.def.version, kind },
    };
    const mutation = await this.admission.mutate(attributes);
    const warnings = [...mutation.warnings, ...(await this.admission.validate({ ...attributes, object: mutation.object }))];
    return { body: mutation.object, warnings };
  }

  private view(subresource: WriteSubresource): AdmissionView {
    const { def } = this;
    if (subresource !== 'scale') {
      return { toAdmission: (obj) => obj, fromAdmission: (admitted) => admitted };
    }
    const scale = def.subresources.scale;
    if (!scale) throw badRequest(`${def.plural} has no scale subresource`);
    return {
      toAdmission: (obj) => toScale(obj, scale),
      fromAdmission: (admitted, obj) => fromScale(obj, scale, admitted as Scale),
    };
  }

  private attributes(
    operation: AdmissionOperation,
    subresource: string,
    target: KubeObject,
    object: KubeObject | undefined,
    oldObject: KubeObject | undefined,
    request: { dryRun: boolean; user: UserInfo },
    options: Record<string, unknown>,
  ): AdmissionAttributes {
    const { def } = this;
    const meta = target.metadata;
    return {
      operation,
      resource: { group: def.group, version: def.version, resource: def.plural },
      subresource,
      kind: subresource === 'scale' ? SCALE_KIND : { group: def.group, version: def.version, kind: def.kind },
      namespace: def.namespaced ? (meta.namespace ?? '') : '',
      // A create whose name is still to be generated has none yet, as upstream.
      name: meta.name ?? '',
      object,
      oldObject,
      options,
      dryRun: request.dryRun,
      userInfo: request.user,
    };
  }
}

/** CreateOptions / UpdateOptions as kube-apiserver hands them to admission (PatchOptions become one of these). */
function writeOptions(kind: 'CreateOptions' | 'UpdateOptions', request: WriteRequest): Record<string, unknown> {
  return { kind, apiVersion: META_V1, ...dryRunOption(request.dryRun), fieldManager: request.fieldManager, fieldValidation: request.fieldValidation };
}

function dryRunOption(dryRun: boolean): { dryRun?: string[] } {
  return dryRun ? { dryRun: ['All'] } : {};
}

function withoutDryRun({ dryRun: _dryRun, ...rest }: DeleteOptions): Omit<DeleteOptions, 'dryRun'> {
  return rest;
}
