// What every engine does the same way around its own rendering: the version and parameter checks before anything is
// rendered, the credentials Secret, and the upgrade rule. An engine supplies its data and the objects it renders.
import type { Database } from '../api/database.ts';
import type { Engine as EngineName } from '../api/engine-rules.ts';
import type { KubeObject } from '../api/meta.ts';
import { assertRenderable, parameterErrors, upgradeKind, versionErrors, versionOf, type ParameterRules } from './common.ts';
import { credentialsSecret } from './credentials.ts';
import type { DesiredState, Engine, EngineContext } from './engine.ts';

/** What `render` may rely on: the spec passed the checks, and the passwords are the ones the Secret holds. */
export interface Renderable {
  version: string;
  /** The credentials Secret, to return as `DesiredState.credentials`. */
  credentials: KubeObject;
  /** Its passwords by key. */
  passwords: Record<string, string>;
}

export interface EngineParts {
  name: EngineName;
  defaultPort: number;
  credentialKeys: readonly string[];
  image(version: string): string;
  parameters: Omit<ParameterRules, 'engine'>;
  render(db: Database, ctx: EngineContext, renderable: Renderable): DesiredState;
}

export function defineEngine(parts: EngineParts): Engine {
  const { name, image } = parts;
  const parameterErrorsOf = (parameters: Readonly<Record<string, string>> | undefined) =>
    parameterErrors(parameters, { engine: name, ...parts.parameters });
  return {
    name,
    defaultPort: parts.defaultPort,
    credentialKeys: parts.credentialKeys,
    image,
    upgradeKind: (from, to) => upgradeKind(name, image, from, to),
    parameterErrors: parameterErrorsOf,
    desired(db, ctx) {
      const version = versionOf(db);
      assertRenderable(db, [...versionErrors(name, version), ...parameterErrorsOf(db.spec.parameters)]);
      const { secret, passwords } = credentialsSecret(db, parts.credentialKeys, ctx.credentials, ctx.generatePassword);
      return parts.render(db, ctx, { version, credentials: secret, passwords });
    },
  };
}
