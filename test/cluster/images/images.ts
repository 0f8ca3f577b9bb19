// The images the harness's real node runs, built here because no public registry is reachable: PostgreSQL 15 and 17,
// Redis, etcd of each minor built by ../build.ts, and Strongroom's own image (the server and the agent with their
// tools, as ../../../apiservice/Dockerfile describes it for Docker users). Each is an OCI layout tarball for
// `ctr -n k8s.io images import`, cached by a content hash of everything it is made of (which is also its tag), so a
// warm run only hashes and resolves.
//
//   npm run images        builds what is missing and prints each image's reference, archive and size
import { chmod, chown, cp, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedLayer, ensureBase, ensurePackageLayer, imagesCache, walk, type Log, type PackageLayerSpec, type Suite } from "./debian.ts";
import { ETCD_MINORS, ensureEtcdBinaries, type EtcdMinor } from "./etcd.ts";
import { packEntries, writeImageArchive, type Layer, type RunConfig } from "./oci.ts";
import { fileSha256, keyOf, run, seconds } from "./run.ts";

export const IMAGE_NAMES = ["postgres-15", "postgres-17", "redis", ...ETCD_MINORS.map((minor) => `etcd-${minor}` as const), "strongroom"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export interface BuiltImage {
  /** e.g. `strongroom.local/postgres:17-0123456789ab`: the version, then 12 hex digits of the content hash. */
  ref: string;
  /** OCI image layout tarball. */
  archive: string;
}

export const REGISTRY = "strongroom.local";
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const imagesDir = dirname(fileURLToPath(import.meta.url));
const projectDir = join(imagesDir, "..", "..", "..");

/** What an image's top layer adds beside packages: files staged into a directory, and what they were made from. */
interface AppLayer {
  /** Content hashes (or versions) of everything `stage` copies, for the cache key. */
  inputs: () => Promise<string[]>;
  stage: (root: string, log: Log) => Promise<void>;
}

interface ImageRecipe {
  repository: string;
  suite: Suite;
  packages: PackageLayerSpec;
  app?: AppLayer;
  run: RunConfig;
  /** The tag's version part, from what apt resolved (`name=version` list). */
  version: (versions: string[]) => string;
}

/** The upstream part of a resolved Debian version: `5:7.0.15-1~deb12u4` is 7.0.15. */
function upstreamVersion(versions: string[], name: string): string {
  const entry = versions.find((version) => version.startsWith(`${name}=`));
  if (!entry) throw new Error(`${name} is not among the resolved packages`);
  return entry.slice(name.length + 1).replace(/^\d+:/, "").replace(/-[^-]*$/, "");
}

function postgres(major: number, suite: Suite): ImageRecipe {
  return {
    repository: "postgres",
    suite,
    packages: {
      packages: [`postgresql-${major}`],
      // The official image's user; engines run the server as 999.
      users: [{ name: "postgres", uid: 999, home: "/var/lib/postgresql", shell: "/bin/bash" }],
      // The containers run initdb themselves; the package must not make a cluster of its own.
      files: { "etc/postgresql-common/createcluster.d/strongroom.conf": "create_main_cluster = false\n" },
    },
    run: {
      // LANG: initdb takes its encoding from the locale, and C.UTF-8 (built into glibc) gives UTF8 as the official image's.
      env: { PATH: `/usr/lib/postgresql/${major}/bin:${DEFAULT_PATH}`, LANG: "C.UTF-8" },
      user: "999:999",
      cmd: ["postgres"],
    },
    version: () => String(major),
  };
}

function etcd(minor: EtcdMinor, release: string): ImageRecipe {
  return {
    repository: "etcd",
    suite: "trixie",
    // The engine's etcd user, so files it writes on the volume have an owner the image can name.
    packages: { packages: [], users: [{ name: "etcd", uid: 65532, home: "/var/lib/etcd" }] },
    app: {
      inputs: async () => {
        const binaries = await ensureEtcdBinaries(minor);
        return [binaries.version, ...(await Promise.all([binaries.etcd, binaries.etcdctl, binaries.etcdutl].map(fileSha256)))];
      },
      stage: async (root, log) => {
        const binaries = await ensureEtcdBinaries(minor, log);
        await installBinaries(root, [binaries.etcd, binaries.etcdctl, binaries.etcdutl]);
      },
    },
    run: { env: { PATH: DEFAULT_PATH }, user: "65532:65532", cmd: ["etcd"] },
    version: () => release,
  };
}

async function installBinaries(root: string, paths: string[]): Promise<void> {
  const bin = join(root, "usr/local/bin");
  await mkdir(bin, { recursive: true });
  for (const path of paths) {
    const target = join(bin, path.slice(path.lastIndexOf("/") + 1));
    await cp(path, target);
    await chmod(target, 0o755);
  }
}

/** The project's files the image runs: src/ and the manifests of its production dependencies. */
async function projectFiles(): Promise<string[]> {
  const sources = (await readdir(join(projectDir, "src"), { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(projectDir.length + 1));
  return ["package.json", "package-lock.json", ...sources].sort();
}

const NODE_BINARY = join(projectDir, "node_modules", "node", "bin", "node");
const STRONGROOM_UID = 1000;

const strongroomApp: AppLayer = {
  inputs: async () => {
    const files = await projectFiles();
    const etcdTools = await ensureEtcdBinaries(ETCD_MINORS[0]);
    const hashes = await Promise.all([...files.map((file) => join(projectDir, file)), NODE_BINARY, etcdTools.etcdctl, etcdTools.etcdutl].map(fileSha256));
    return [...files, ...hashes];
  },
  stage: async (root, log) => {
    const etcdTools = await ensureEtcdBinaries(ETCD_MINORS[0], log);
    await installBinaries(root, [NODE_BINARY, etcdTools.etcdctl, etcdTools.etcdutl]);
    await writeFile(join(root, "usr/local/bin/strongroom"), '#!/bin/sh\nexec node /app/src/cli/main.ts "$@"\n', { mode: 0o755 });
    const app = join(root, "app");
    for (const file of await projectFiles()) {
      await mkdir(dirname(join(app, file)), { recursive: true });
      await cp(join(projectDir, file), join(app, file));
    }
    const started = performance.now();
    // --ignore-scripts: no production dependency has a native part to build; --prefer-offline: npm ci already
    // fetched every one of them into npm's cache.
    await run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", "--logs-max=0"], { cwd: app });
    log(`strongroom: production node_modules installed in ${seconds(started)}`);
    const data = join(root, "var/lib/strongroom");
    await mkdir(data, { recursive: true });
    await chown(data, STRONGROOM_UID, STRONGROOM_UID);
  },
};

const strongroom = (version: string): ImageRecipe => ({
  repository: "strongroom",
  suite: "trixie",
  packages: {
    // The agent's tools: pg_dump, pg_restore and pg_basebackup of PostgreSQL 17 (which read servers 13 to 17), zstd,
    // redis-cli; libstdc++ for Node.
    packages: ["postgresql-client-17", "zstd", "redis-tools", "ca-certificates", "libstdc++6"],
    users: [{ name: "strongroom", uid: STRONGROOM_UID, home: "/app" }],
  },
  app: strongroomApp,
  run: {
    env: { PATH: DEFAULT_PATH, NODE_ENV: "production" },
    user: `${STRONGROOM_UID}:${STRONGROOM_UID}`,
    cmd: ["strongroom", "serve", "--bind-address=0.0.0.0", "--secure-port=8443", "--data-dir=/var/lib/strongroom"],
    workingDir: "/app",
  },
  version: () => version,
});

async function recipes(): Promise<Record<ImageName, ImageRecipe>> {
  const etcdImages: Record<string, ImageRecipe> = {};
  for (const minor of ETCD_MINORS) etcdImages[`etcd-${minor}`] = etcd(minor, (await ensureEtcdBinaries(minor)).version.slice(1));
  const packageVersion = (JSON.parse(await readFile(join(projectDir, "package.json"), "utf8")) as { version: string }).version;
  const all: Record<string, ImageRecipe> = {
    "postgres-15": postgres(15, "bookworm"),
    "postgres-17": postgres(17, "trixie"),
    // Bookworm's Redis 7.0, not trixie's 8.0: the engine runs the 6.2 to 7.4 line, and 8 is a major it does not claim.
    redis: {
      repository: "redis",
      suite: "bookworm",
      packages: { packages: ["redis-server", "redis-tools"], users: [{ name: "redis", uid: 999, home: "/var/lib/redis" }] },
      run: { env: { PATH: DEFAULT_PATH }, user: "999:999", cmd: ["redis-server"] },
      version: (versions) => upstreamVersion(versions, "redis-server"),
    },
    ...etcdImages,
    strongroom: strongroom(packageVersion),
  };
  return all as Record<ImageName, ImageRecipe>;
}

/** This builder's own source: a change to how images are made is a change of every image. */
async function builderSource(): Promise<string[]> {
  const files = (await readdir(imagesDir, { recursive: true })).filter((file) => /\.ts$|go\.(mod|sum)$/.test(file)).sort();
  return Promise.all(files.map((file) => fileSha256(join(imagesDir, file))));
}

async function appLayer(name: ImageName, app: AppLayer, log: Log): Promise<{ key: string; layer: Layer }> {
  const key = keyOf([...(await builderSource()), name, ...(await app.inputs())]);
  const started = performance.now();
  const { layer, made } = await cachedLayer(join(imagesCache(), "layers", `${name}-app-${key.slice(0, 12)}`), async (partial) => {
    const root = join(partial, "root");
    await mkdir(root, { mode: 0o755 });
    await app.stage(root, log);
    await packEntries(root, [...(await walk(root)).keys()], partial);
    await rm(root, { recursive: true });
  });
  if (made) log(`${name}: files layer made in ${seconds(started)}`);
  return { key, layer };
}

async function ensureImage(name: ImageName, recipe: ImageRecipe, log: Log): Promise<BuiltImage> {
  const started = performance.now();
  const base = await ensureBase(recipe.suite, log);
  const packages = await ensurePackageLayer(base, recipe.packages, log, name);
  const app = recipe.app ? await appLayer(name, recipe.app, log) : undefined;
  const layers = [base.layer, packages.layer, ...(app ? [app.layer] : [])];
  const key = keyOf([...(await builderSource()), name, base.key, packages.key, app?.key ?? "", JSON.stringify(recipe.run)]);
  const ref = `${REGISTRY}/${recipe.repository}:${recipe.version(packages.versions)}-${key.slice(0, 12)}`;
  const archive = join(imagesCache(), "archives", `${name}-${key.slice(0, 12)}.tar`);
  if (!existsSync(archive)) {
    await mkdir(dirname(archive), { recursive: true });
    await writeImageArchive({ ref, layers, run: recipe.run, path: archive });
    log(`${name}: ${ref} built in ${seconds(started)} (${megabytes((await stat(archive)).size)})`);
  } else {
    log(`${name}: ${ref} cached (${seconds(started)})`);
  }
  return { ref, archive };
}

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Every image the real node needs, built into the cache where missing. Root only (debootstrap, chroot, mounts). */
export async function ensureImages(options: { log?: (line: string) => void } = {}): Promise<Record<ImageName, BuiltImage>> {
  if (process.getuid?.() !== 0) throw new Error("building the images needs root (debootstrap, chroot and mounts)");
  const log = options.log ?? (() => {});
  const all = await recipes();
  const built = {} as Record<ImageName, BuiltImage>;
  // One at a time: the machine's cores are shared, and images of one suite wait for its base anyway.
  for (const name of IMAGE_NAMES) built[name] = await ensureImage(name, all[name], log);
  return built;
}

if (import.meta.main) {
  const started = performance.now();
  const images = await ensureImages({ log: (line) => console.log(`[images] ${line}`) });
  console.log(`[images] all images ready in ${seconds(started)}`);
  console.log(JSON.stringify(images, null, 2));
}
