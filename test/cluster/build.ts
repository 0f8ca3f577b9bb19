// Builds the local control plane's binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and
// the S3-compatible server of the backup tests (versitygw) with `go build` from the wrapper modules in ./kube, ./kwok
// and ./s3, into a cache directory outside the repository keyed by version, so a machine pays the cold build (tens of
// minutes on 2 cores) once and every later run reuses it.
//
//   node test/cluster/build.ts        builds what is missing and prints the binaries' paths
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
}

export interface BuildOptions {
  /** Progress lines (what is built, how long it took); silent when absent. */
  log?: (line: string) => void;
}

interface BinaryTarget {
  key: string;
  name: string;
  module: string;
  pkg: string;
  /** Cache sub-directory, e.g. `kube-v1.33.13`: a version change builds into a fresh directory. */
  versionDir: string;
  ldflags: string[];
}

const clusterDir = dirname(fileURLToPath(import.meta.url));

/** `$STRONGROOM_CACHE`, else `~/.cache/strongroom`. */
export function cacheRoot(): string {
  return process.env.STRONGROOM_CACHE ?? join(homedir(), ".cache", "strongroom");
}

/** The version a wrapper module's go.mod selects for `modulePath` (go.mod is the single source of versions). */
async function moduleVersion(moduleDir: string, modulePath: string): Promise<string> {
  const goMod = await readFile(join(clusterDir, moduleDir, "go.mod"), "utf8");
  const escaped = modulePath.replaceAll(".", "\\.");
  const match = new RegExp(`^[ \\t]*(?:require[ \\t]+)?${escaped}[ \\t]+(v\\S+)`, "m").exec(goMod);
  if (!match) throw new Error(`${moduleDir}/go.mod does not require ${modulePath}`);
  return match[1];
}

/** Version stamping as upstream's hack/lib/version.sh does; unstamped binaries report v0.0.0-master. */
function kubeVersionLdflags(version: string): string[] {
  const [major, minor] = version.slice(1).split(".");
  return ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
}

async function targets(): Promise<BinaryTarget[]> {
  const kube = await moduleVersion("kube", "k8s.io/kubernetes");
  const etcd = await moduleVersion("kube", "go.etcd.io/etcd/server/v3");
  const kwok = await moduleVersion("kwok", "sigs.k8s.io/kwok");
  const kubeBinary = (key: BinaryTarget["key"], name: string): BinaryTarget => ({
    key,
    name,
    module: "kube",
    pkg: `k8s.io/kubernetes/cmd/${name}`,
    versionDir: `kube-${kube}`,
    ldflags: kubeVersionLdflags(kube),
  });
  // kube-apiserver first: it compiles most of the shared packages, the others then mostly link.
  return [
    kubeBinary("kubeApiserver", "kube-apiserver"),
    kubeBinary("kubeControllerManager", "kube-controller-manager"),
    kubeBinary("kubeScheduler", "kube-scheduler"),
    { key: "etcd", name: "etcd", module: "kube", pkg: "go.etcd.io/etcd/server/v3", versionDir: `etcd-${etcd}`, ldflags: [] },
    { key: "kwok", name: "kwok", module: "kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok", versionDir: `kwok-${kwok}`, ldflags: [] },
  ];
}

function binaryPath(target: BinaryTarget): string {
  return join(cacheRoot(), target.versionDir, "bin", target.name);
}

function goBuild(target: BinaryTarget, output: string): Promise<void> {
  const args = ["-n", "10", "go", "build", "-mod=readonly", `-ldflags=-s -w ${target.ldflags.join(" ")}`, "-o", output, target.pkg];
  // CGO off: upstream builds these binaries statically; GOTOOLCHAIN=local fails clearly rather than fetching a toolchain.
  const env = {
    ...process.env,
    CGO_ENABLED: "0",
    GOTOOLCHAIN: "local",
    GOFLAGS: "-trimpath -buildvcs=false",
    GOWORK: "off",
  };
  return new Promise((resolve, reject) => {
    const child = spawn("nice", args, { cwd: join(clusterDir, target.module), env, stdio: ["ignore", "inherit", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`go build ${target.pkg} exited with ${code}:\n${stderr}`)),
    );
  });
}

/** Paths of the targets' binaries, building those not yet in the cache. Safe to call from concurrent processes. */
async function ensureTargets(list: BinaryTarget[], options: BuildOptions): Promise<Record<string, string>> {
  const log = options.log ?? (() => {});
  const binaries: Record<string, string> = {};
  for (const target of list) {
    const path = binaryPath(target);
    binaries[target.key] = path;
    if (existsSync(path)) {
      log(`${target.name}: cached at ${path}`);
      continue;
    }
    await mkdir(dirname(path), { recursive: true });
    // Build beside the final path and rename: a concurrent or interrupted build never leaves a half-written binary.
    const partial = `${path}.${process.pid}.partial`;
    log(`${target.name}: building ${target.pkg} (${target.versionDir})`);
    const started = performance.now();
    try {
      await goBuild(target, partial);
      await rename(partial, path);
    } finally {
      await rm(partial, { force: true });
    }
    log(`${target.name}: built in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  }
  return binaries;
}

/** Paths of all control-plane binaries, building those not yet in the cache. */
export async function ensureBinaries(options: BuildOptions = {}): Promise<ControlPlaneBinaries> {
  return (await ensureTargets(await targets(), options)) as unknown as ControlPlaneBinaries;
}

/** The versitygw binary (an S3-compatible server over a directory), built when not yet in the cache. */
export async function ensureS3Server(options: BuildOptions = {}): Promise<string> {
  const version = await moduleVersion("s3", "github.com/versity/versitygw");
  const target: BinaryTarget = {
    key: "versitygw",
    name: "versitygw",
    module: "s3",
    pkg: "github.com/versity/versitygw/cmd/versitygw",
    versionDir: `versitygw-${version}`,
    ldflags: [],
  };
  return (await ensureTargets([target], options)).versitygw!;
}

if (import.meta.main) {
  const started = performance.now();
  const log = (line: string) => console.log(`[build] ${line}`);
  const binaries = { ...(await ensureBinaries({ log })), versitygw: await ensureS3Server({ log }) };
  console.log(`[build] all binaries ready in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  console.log(JSON.stringify(binaries, null, 2));
}
