// Debian root filesystems for the harness's images. Each suite has one base, made by debootstrap (minbase), slimmed
// and kept unpacked in the cache; an image's packages are installed with apt in a chroot of a copy of that base, and
// what the install changed becomes the image's package layer, so every image of a suite shares the base layer.
//
// Cache keys are content hashes: a base's of the suite, the versions of the packages minbase installs and the code
// that makes it; a package layer's of its base, its users and files, the versions apt resolves for its packages and
// this file's source. apt resolves against a package index per suite kept in the cache and refreshed once a day.
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot } from "../build.ts";
import { packEntries, type Layer } from "./oci.ts";
import { fileSha256, keyOf, run, seconds } from "./run.ts";

export type Suite = "bookworm" | "trixie";

const MIRROR = process.env.STRONGROOM_DEBIAN_MIRROR ?? "http://deb.debian.org/debian";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const INDEX_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** The environment of commands run in a chroot: nothing of the host's. */
const CHROOT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" };

/** What is left out of images: documentation but copyright notices, manuals, translations (as Docker's slim images). */
const DPKG_EXCLUDES = `path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
`;

export function imagesCache(): string {
  return join(cacheRoot(), "images");
}

export interface Log {
  (line: string): void;
}

export interface BaseRootfs {
  suite: Suite;
  key: string;
  /** The unpacked root filesystem: never changed once made, only copied. */
  rootfs: string;
  layer: Layer;
}

export interface User {
  name: string;
  uid: number;
  home: string;
  shell?: string;
}

export interface PackageLayerSpec {
  packages: string[];
  /** System users and their groups (gid = uid), created before the packages so their maintainer scripts reuse them. */
  users: User[];
  /** Files written before the packages are installed (e.g. configuration their maintainer scripts read). */
  files?: Record<string, string>;
}

export interface PackageLayer {
  key: string;
  layer: Layer;
  /** `name=version` of every package the layer added, as apt resolved them. */
  versions: string[];
}

const ownSource = fileSha256(fileURLToPath(import.meta.url));
/**
 * What makes a base, for its key: the source of the functions that make it, rather than of this whole file, so a
 * change to how package layers are made does not remake every base (minutes each).
 */
const baseRecipe = (): string[] => [makeBase, slim, walk, packEntries, DPKG_EXCLUDES].map(String);

/** A suite's package index, outside the host's apt state; the same options drive every apt-get run against it. */
class AptIndex {
  readonly suite: Suite;
  readonly dir: string;
  constructor(suite: Suite) {
    this.suite = suite;
    this.dir = join(imagesCache(), "apt", suite);
  }

  options(status: string): string[] {
    return [
      `-o=Dir::Etc::SourceList=${join(this.dir, "sources.list")}`,
      `-o=Dir::Etc::SourceParts=${join(this.dir, "parts")}`,
      `-o=Dir::Etc::Preferences=${join(this.dir, "preferences")}`,
      `-o=Dir::Etc::PreferencesParts=${join(this.dir, "parts")}`,
      `-o=Dir::State=${join(this.dir, "state")}`,
      `-o=Dir::State::status=${status}`,
      `-o=Dir::Cache=${join(this.dir, "cache")}`,
      `-o=Dir::Cache::archives=${this.debs}`,
      "-o=Debug::NoLocking=true",
      "-o=APT::Install-Recommends=false",
    ];
  }

  get debs(): string {
    return join(imagesCache(), "debs", this.suite);
  }

  get emptyStatus(): string {
    return join(this.dir, "empty-status");
  }

  async refresh(log: Log): Promise<void> {
    const stamp = join(this.dir, "updated");
    if (existsSync(stamp) && Date.now() - (await stat(stamp)).mtimeMs < INDEX_MAX_AGE_MS) return;
    for (const sub of ["parts", "state/lists/partial", "cache", "debs"]) await mkdir(join(this.dir, sub), { recursive: true });
    await mkdir(join(this.debs, "partial"), { recursive: true });
    await writeFile(join(this.dir, "sources.list"), `deb [signed-by=${KEYRING}] ${MIRROR} ${this.suite} main\n`);
    await writeFile(this.emptyStatus, "");
    const started = performance.now();
    await run("apt-get", [...this.options(this.emptyStatus), "-q", "update"]);
    await writeFile(stamp, new Date().toISOString());
    log(`${this.suite}: package index refreshed in ${seconds(started)}`);
  }

  /**
   * The answer of `compute`, kept under a hash of what determines it: the index's InRelease files (which hold the
   * hashes of every Packages file) and `inputs`. apt rebuilds its cache for each dpkg status it is given, seconds a
   * time, so a warm build asks apt nothing.
   */
  private async memo(inputs: string[], compute: () => Promise<string[]>): Promise<string[]> {
    const lists = join(this.dir, "state", "lists");
    const releases = (await readdir(lists)).filter((file) => file.endsWith("_InRelease")).sort();
    const key = keyOf([...(await Promise.all(releases.map((file) => fileSha256(join(lists, file))))), ...inputs]);
    const file = join(this.dir, "resolved", `${key}.json`);
    if (existsSync(file)) return JSON.parse(await readFile(file, "utf8")) as string[];
    const answer = await compute();
    await mkdir(join(this.dir, "resolved"), { recursive: true });
    await writeFile(file, JSON.stringify(answer));
    return answer;
  }

  /** `name=version` of every package `apt-get install packages` would add to a system whose dpkg status is `status`. */
  async resolve(packages: string[], status: string): Promise<string[]> {
    return this.memo(["resolve", await fileSha256(status), ...packages], async () => {
      const output = await run("apt-get", [...this.options(status), "--simulate", "install", ...packages]);
      const versions = [...output.matchAll(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)/gm)].map((match) => `${match[1]}=${match[2]}`);
      return versions.sort();
    });
  }

  /** Downloads the packages' .deb files into the shared cache (those missing) and returns their paths there. */
  async download(packages: string[], status: string): Promise<string[]> {
    // --print-uris leaves out what the archives directory already holds: asked with an empty one, it names them all.
    const none = join(this.dir, "no-archives");
    await mkdir(join(none, "partial"), { recursive: true });
    const uris = await run("apt-get", [...this.options(status), `-o=Dir::Cache::archives=${none}`, "--print-uris", "--yes", "install", ...packages]);
    const files = [...uris.matchAll(/^'[^']+' (\S+\.deb) /gm)].map((match) => match[1]!);
    if (files.some((file) => !existsSync(join(this.debs, file)))) {
      await run("apt-get", [...this.options(status), "--download-only", "--yes", "-q", "install", ...packages]);
    }
    return files;
  }

  /** The suite's Priority: required packages: what debootstrap's minbase variant installs, with apt. */
  requiredPackages(): Promise<string[]> {
    return this.memo(["required"], async () => {
      // dumpavail: apt may keep the lists compressed.
      const available = await run("apt-cache", [...this.options(this.emptyStatus), "dumpavail"]);
      const names = new Set<string>(["apt"]);
      for (const stanza of available.split("\n\n")) {
        if (/^Priority: required$/m.test(stanza)) names.add(/^Package: (\S+)/m.exec(stanza)![1]!);
      }
      return [...names].sort();
    });
  }
}

const indexes = new Map<Suite, Promise<AptIndex>>();

function aptIndex(suite: Suite, log: Log): Promise<AptIndex> {
  let index = indexes.get(suite);
  if (!index) {
    const created = new AptIndex(suite);
    index = created.refresh(log).then(() => created);
    indexes.set(suite, index);
  }
  return index;
}

/** Unmounts everything mounted at or below `dir`, deepest first; lazily when busy, so nothing stays mounted. */
export async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const points = mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await run("umount", [point]).catch(() => run("umount", ["--lazy", point]));
}

/** Metadata of every entry below `root` (but what proc, sys and dev hold), to tell what an install changed. */
export async function walk(root: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name).slice(root.length + 1);
    if (/^(proc|sys|dev)\//.test(path)) continue;
    const info = await lstat(join(root, path), { bigint: true });
    const target = info.isSymbolicLink() ? await readlink(join(root, path)) : "";
    entries.set(path, `${info.mode}:${info.uid}:${info.gid}:${info.size}:${info.mtimeNs}:${target}`);
  }
  return entries;
}

/** Drops what images leave out (see DPKG_EXCLUDES) and what apt and dpkg keep after an install. */
async function slim(rootfs: string): Promise<void> {
  await run("find", [join(rootfs, "usr/share/doc"), "-mindepth", "1", "!", "-type", "d", "!", "-name", "copyright", "-delete"]);
  await run("find", [join(rootfs, "usr/share/doc"), "-mindepth", "1", "-type", "d", "-empty", "-delete"]);
  await run("find", [join(rootfs, "var/log"), "-type", "f", "-delete"]);
  for (const dir of ["usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian", "var/lib/apt/lists", "var/cache/apt"]) {
    await rm(join(rootfs, dir), { recursive: true, force: true });
  }
  for (const dir of ["usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial"]) {
    await mkdir(join(rootfs, dir), { recursive: true });
  }
  await run("find", [join(rootfs, "var/cache/debconf"), "-name", "*-old", "-delete"]);
  await rm(join(rootfs, "var/cache/ldconfig/aux-cache"), { force: true });
}

async function makeBase(suite: Suite, partial: string, log: Log): Promise<void> {
  const rootfs = join(partial, "rootfs");
  if (!existsSync("/usr/sbin/debootstrap")) {
    log("debootstrap: not installed, installing it with apt-get");
    await run("apt-get", ["install", "--yes", "-q", "debootstrap"]);
  }
  try {
    await run("debootstrap", ["--variant=minbase", `--keyring=${KEYRING}`, suite, rootfs, MIRROR]);
  } finally {
    await unmountUnder(rootfs);
  }
  await writeFile(join(rootfs, "etc/dpkg/dpkg.cfg.d/strongroom-slim"), DPKG_EXCLUDES);
  await writeFile(join(rootfs, "etc/apt/apt.conf.d/90strongroom"), 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n');
  // The kubelet provides these per pod; debootstrap copied the build host's.
  await writeFile(join(rootfs, "etc/resolv.conf"), "");
  await writeFile(join(rootfs, "etc/hostname"), "");
  await slim(rootfs);
  const list = [...(await walk(rootfs)).keys()];
  await packEntries(rootfs, list, partial);
}

async function readLayer(dir: string): Promise<Layer> {
  const layer = JSON.parse(await readFile(join(dir, "layer.tar.gz.json"), "utf8")) as Layer;
  return { ...layer, path: join(dir, "layer.tar.gz") };
}

/**
 * The layer in cache directory `dir`, made by `make(partial)` (which writes partial/layer.tar.gz with packEntries)
 * when not yet there; `made` tells which. The partial directory never survives, mounted or not.
 */
export async function cachedLayer(dir: string, make: (partial: string) => Promise<void>): Promise<{ layer: Layer; made: boolean }> {
  if (existsSync(join(dir, "layer.tar.gz.json"))) return { layer: await readLayer(dir), made: false };
  const partial = `${dir}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    await make(partial);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
  } finally {
    await unmountUnder(partial);
    await rm(partial, { recursive: true, force: true });
  }
  return { layer: await readLayer(dir), made: true };
}

const bases = new Map<Suite, Promise<BaseRootfs>>();

/** The suite's base root filesystem and layer, made when not yet in the cache. */
export function ensureBase(suite: Suite, log: Log): Promise<BaseRootfs> {
  let base = bases.get(suite);
  if (!base) {
    base = (async () => {
      const index = await aptIndex(suite, log);
      const versions = await index.resolve(await index.requiredPackages(), index.emptyStatus);
      const key = keyOf([...baseRecipe(), suite, MIRROR, ...versions]);
      const dir = join(imagesCache(), "base", `${suite}-${key.slice(0, 12)}`);
      const started = performance.now();
      const { layer, made } = await cachedLayer(dir, (partial) => makeBase(suite, partial, log));
      if (made) log(`${suite}: base made in ${seconds(started)}`);
      return { suite, key, rootfs: join(dir, "rootfs"), layer };
    })();
    bases.set(suite, base);
  }
  return base;
}

async function chroot(rootfs: string, args: string[]): Promise<void> {
  await run("chroot", [rootfs, ...args], { env: CHROOT_ENV });
}

async function makePackageLayer(base: BaseRootfs, spec: PackageLayerSpec, debs: string[], index: AptIndex, partial: string): Promise<void> {
  const rootfs = join(partial, "rootfs");
  await run("cp", ["--archive", base.rootfs, rootfs]);
  const before = await walk(rootfs);
  const archives = join(rootfs, "var/cache/apt/archives");
  const policy = join(rootfs, "usr/sbin/policy-rc.d");
  try {
    await run("mount", ["-t", "proc", "proc", join(rootfs, "proc")]);
    await run("mount", ["--bind", index.debs, archives]);
    // No service starts in a chroot (maintainer scripts ask invoke-rc.d, which asks this).
    await writeFile(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
    for (const user of spec.users) {
      await chroot(rootfs, ["groupadd", "--system", "--gid", String(user.uid), user.name]);
      await chroot(rootfs, ["useradd", "--system", "--uid", String(user.uid), "--gid", String(user.uid), "--home-dir", user.home, "--no-create-home", "--shell", user.shell ?? "/usr/sbin/nologin", user.name]);
    }
    for (const [path, content] of Object.entries(spec.files ?? {})) {
      await mkdir(join(rootfs, path, ".."), { recursive: true });
      await writeFile(join(rootfs, path), content);
    }
    if (debs.length > 0) await chroot(rootfs, ["apt-get", "install", "--yes", "-q", ...debs.map((file) => `/var/cache/apt/archives/${file}`)]);
  } finally {
    await unmountUnder(rootfs);
    await rm(policy, { force: true });
  }
  await slim(rootfs);
  const after = await walk(rootfs);
  const changed = [...after].filter(([path, metadata]) => before.get(path) !== metadata).map(([path]) => path);
  // A removed file of the base is a whiteout entry; below a removed directory, its whiteout covers everything.
  const removed = [...before.keys()].filter((path) => !after.has(path));
  const removedSet = new Set(removed);
  for (const path of removed) {
    const slash = path.lastIndexOf("/");
    const parent = slash < 0 ? "" : path.slice(0, slash);
    if (removedSet.has(parent)) continue;
    const whiteout = join(parent, `.wh.${path.slice(slash + 1)}`);
    await writeFile(join(rootfs, whiteout), "");
    changed.push(whiteout);
  }
  await packEntries(rootfs, changed, partial);
  await rm(rootfs, { recursive: true });
}

/** The layer that installs `spec` on `base`, made when not yet in the cache. */
export async function ensurePackageLayer(base: BaseRootfs, spec: PackageLayerSpec, log: Log, name: string): Promise<PackageLayer> {
  const index = await aptIndex(base.suite, log);
  const status = join(base.rootfs, "var/lib/dpkg/status");
  const versions = spec.packages.length > 0 ? await index.resolve(spec.packages, status) : [];
  const key = keyOf([await ownSource, base.key, JSON.stringify(spec.users), JSON.stringify(spec.files ?? {}), ...versions]);
  const dir = join(imagesCache(), "layers", `${name}-${key.slice(0, 12)}`);
  const started = performance.now();
  const { layer, made } = await cachedLayer(dir, async (partial) => {
    const debs = spec.packages.length > 0 ? await index.download(spec.packages, status) : [];
    await makePackageLayer(base, spec, debs, index, partial);
  });
  if (made) log(`${name}: packages installed on ${base.suite} in ${seconds(started)}`);
  return { key, layer, versions };
}
