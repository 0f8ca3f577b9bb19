// What every engine does the same way around its own rendering: the credentials Secret and the upgrade rule. An
// engine supplies its rules, its data and the objects it renders.
import type { Database } from '../api/database.ts';
import type { KubeObject } from '../api/meta.ts';
import { upgradeKind, versionOf } from './common.ts';
import { credentialsSecret } from './credentials.ts';
import type { DesiredState, Engine, EngineContext } from './engine.ts';

/** What `render` may rely on: the version to run, its image, and the passwords the Secret holds. */
export interface Renderable {
  version: string;
  /** The image the members run: the catalog's or `spec.image` when the controller passed one, else the default. */
  image: string;
  /** The credentials Secret, to return as `DesiredState.credentials`. */
  credentials: KubeObject;
  /** Its passwords by key. */
  passwords: Record<string, string>;
}

export type EngineParts = Omit<Engine, 'upgradeKind' | 'desired'> & {
  render(db: Database, ctx: EngineContext, renderable: Renderable): DesiredState;
};

export function defineEngine({ render, ...parts }: EngineParts): Engine {
  return {
    ...parts,
    upgradeKind: (from, to) => upgradeKind(parts.spec, parts.defaultImage, from, to),
    desired(db, ctx) {
      const version = versionOf(db, parts.spec.defaultVersion);
      const { secret, passwords } = credentialsSecret(db, parts.credentialKeys, ctx.credentials, ctx.generatePassword);
      return render(db, ctx, { version, image: ctx.image ?? parts.defaultImage(version), credentials: secret, passwords });
    },
  };
}
