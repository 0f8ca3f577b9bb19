// The engine rules of a Database's spec, checked at admission: versions, the image, member counts and parameters,
// each engine's as it declares them in src/engines/<engine>/ (SpecRules). The Database definition calls
// `validateEngineSpec`, `engineUpdateErrors` and `applyEngineDefaults`; the engines render only what passed, so a spec
// they cannot run is answered with 422 at `kubectl apply`, never discovered later by the controller.
import { isImageReference } from '../engines/catalog.ts';
import type { SpecRules } from '../engines/engine.ts';
import { engineFor, isEngine } from '../engines/registry.ts';
import { compareMajors, majorOf } from '../engines/versions.ts';
import { childPath, fieldForbidden, fieldInvalid, fieldNotSupported, keyPath } from './field.ts';
import type { FieldError } from './meta.ts';

/** The parts of a spec the engine rules look at; the schema has checked their types. */
export interface EngineSpec {
  engine: string;
  version?: string;
  image?: string;
  replicas?: number;
  parameters?: Record<string, string>;
}

/** What is wrong with `version` for an engine with `rules`, at `field`. */
export function versionErrors(engine: string, rules: SpecRules, version: string, field: string): FieldError[] {
  const major = majorOf(rules, version);
  if (major === undefined) return [fieldInvalid(field, version, `must be a ${engine} version such as ${rules.versionExamples}`)];
  if (!rules.majors.includes(major)) return [fieldNotSupported(field, version, rules.majors)];
  return [];
}

function replicaErrors(engine: string, rules: SpecRules, replicas: number, field: string): FieldError[] {
  if (replicas > rules.maxReplicas) return [fieldInvalid(field, replicas, `${engine} supports at most ${rules.maxReplicas} members`)];
  if (rules.oddReplicas && replicas % 2 === 0) {
    return [fieldInvalid(field, replicas, `an ${engine} cluster needs an odd number of members (1, 3, 5 or 7) to keep a quorum`)];
  }
  return [];
}

/** Settings the engine manages, keys it cannot write (a line break would start another setting), values with NUL. */
function parameterErrors(rules: SpecRules, parameters: Readonly<Record<string, string>>, field: string): FieldError[] {
  const { managed, keyPattern, keyDescription } = rules.parameters;
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(parameters).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const path = keyPath(field, key);
    if (managed.includes(key)) errors.push(fieldForbidden(path, `${key} is managed by Strongroom`));
    else if (!keyPattern.test(key)) errors.push(fieldInvalid(path, key, `must be ${keyDescription}`));
    else if (value.includes('\0')) errors.push(fieldInvalid(path, value, 'must not contain NUL characters'));
  }
  return errors;
}

/**
 * Every engine rule about `spec` at `path` (`spec`): the whole of what an engine refuses to run. A spec whose engine
 * is unknown has nothing to check here: the schema's enum refuses it.
 */
export function validateEngineSpec(spec: EngineSpec, path: string): FieldError[] {
  if (!isEngine(spec.engine)) return [];
  const { name, spec: rules } = engineFor(spec.engine);
  const errors: FieldError[] = [];
  if (spec.version !== undefined) errors.push(...versionErrors(name, rules, spec.version, childPath(path, 'version')));
  if (spec.image !== undefined && !isImageReference(spec.image)) {
    errors.push(fieldInvalid(childPath(path, 'image'), spec.image, 'must be an image reference such as registry.example/postgres:17.6'));
  }
  if (spec.replicas !== undefined) errors.push(...replicaErrors(name, rules, spec.replicas, childPath(path, 'replicas')));
  if (spec.parameters) errors.push(...parameterErrors(rules, spec.parameters, childPath(path, 'parameters')));
  return errors;
}

/** No major downgrade: an older major cannot read the data files of a newer one. */
export function engineUpdateErrors(next: Partial<EngineSpec> | undefined, prev: Partial<EngineSpec> | undefined, path: string): FieldError[] {
  const engine = prev?.engine;
  if (!isEngine(engine) || engine !== next?.engine || typeof next.version !== 'string' || typeof prev?.version !== 'string') return [];
  const rules = engineFor(engine).spec;
  const major = majorOf(rules, next.version);
  const prevMajor = majorOf(rules, prev.version);
  if (major === undefined || prevMajor === undefined || compareMajors(major, prevMajor) >= 0) return [];
  return [
    fieldForbidden(
      childPath(path, 'version'),
      `downgrading ${engine} from ${prevMajor} to ${major} is not supported: its data files cannot be read by an older major; restore a backup into a new Database instead`,
    ),
  ];
}

/** The engine's defaults: its default version when the spec names none. */
export function applyEngineDefaults(spec: Partial<EngineSpec> | undefined): void {
  if (spec && isEngine(spec.engine) && spec.version === undefined) spec.version = engineFor(spec.engine).spec.defaultVersion;
}
