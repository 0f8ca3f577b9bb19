// Builds the local control plane's binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
// kwok), the real node's (kubelet, kube-proxy, containerd, runc, CNI plugins, CoreDNS) and the S3-compatible server of
// the backup tests (versitygw) with `go build` from the wrapper modules in ./kube/v1.X, ./kwok, ./containerd, ./runc,
// ./cni, ./coredns and ./s3, into a cache directory outside the repository keyed by version, so a machine pays the
// cold build (tens of minutes on 2 cores) once and every later run reuses it.
//
// Each supported Kubernetes minor has its own wrapper module, ./kube/v1.X; the newest is the default and
// STRONGROOM_KUBE_MINOR=1.X selects another (CI runs the aggregator tests on the oldest too).
//
//   node test/cluster/build.ts             builds what is missing for the selected minor and prints the paths
//   node test/cluster/build.ts --all       the same for every supported minor
//   node test/cluster/build.ts --real      also the real node's binaries (see realnode.ts)
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  /** kubectl of the same release, which every test drives (never a kubectl installed on the machine). */
  kubectl: string;
  kwok: string;
}

/** The real worker node's binaries (realnode.ts). The four CNI plugins share one directory, kubelet's CNI bin dir. */
export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  containerd: string;
  containerdShim: string;
  ctr: string;
  runc: string;
  bridge: string;
  hostLocal: string;
  loopback: string;
  portmap: string;
  coredns: string;
}

export interface BuildOptions {
  /** Progress lines (what is built, how long it took); silent when absent. */
  log?: (line: string) => void;
  /** Kubernetes minor such as "1.35"; default `selectedKubeMinor()`. */
  minor?: string;
}

export interface BinaryTarget {
  key: string;
  name: string;
  module: string;
  pkg: string;
  /** Cache sub-directory, e.g. `kube-v1.37.2`: a version change builds into a fresh directory. */
  versionDir: string;
  ldflags: string[];
  /** Build tags; cgo is enabled exactly when a target has tags that need it (runc's seccomp). */
  tags?: string[];
  cgo?: boolean;
}

const clusterDir = dirname(fileURLToPath(import.meta.url));

/** `$STRONGROOM_CACHE`, else `~/.cache/strongroom`. */
export function cacheRoot(): string {
  return process.env.STRONGROOM_CACHE ?? join(homedir(), ".cache", "strongroom");
}

/** The supported minors, newest first: one wrapper module each under ./kube. */
export function kubeMinors(): string[] {
  const minors = readdirSync(join(clusterDir, "kube"))
    .map((name) => /^v(\d+\.\d+)$/.exec(name)?.[1])
    .filter((minor): minor is string => minor !== undefined);
  const order = (minor: string) => Number(minor.split(".")[1]);
  return minors.sort((a, b) => order(b) - order(a));
}

/** `$STRONGROOM_KUBE_MINOR` when set (it must be a supported minor), else the newest supported minor. */
export function selectedKubeMinor(): string {
  const minors = kubeMinors();
  const wanted = process.env.STRONGROOM_KUBE_MINOR;
  if (wanted === undefined || wanted === "") return minors[0]!;
  if (!minors.includes(wanted)) throw new Error(`STRONGROOM_KUBE_MINOR=${wanted}: supported minors are ${minors.join(", ")}`);
  return wanted;
}

/** The version a wrapper module's go.mod selects for `modulePath` (go.mod is the single source of versions). */
export async function moduleVersion(moduleDir: string, modulePath: string): Promise<string> {
  const goMod = await readFile(join(clusterDir, moduleDir, "go.mod"), "utf8");
  const escaped = modulePath.replaceAll(".", "\\.");
  const match = new RegExp(`^[ \\t]*(?:require[ \\t]+)?${escaped}[ \\t]+(v\\S+)`, "m").exec(goMod);
  if (!match) throw new Error(`${moduleDir}/go.mod does not require ${modulePath}`);
  return match[1];
}

/** 12 hex digits of a wrapper module file's SHA-256. */
async function fileDigest(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(join(clusterDir, path))).digest("hex").slice(0, 12);
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

/** A binary of k8s.io/kubernetes/cmd/ from the wrapper module of `minor`, stamped with the module's version. */
export async function kubeTarget(minor: string, key: string, name: string): Promise<BinaryTarget> {
  const module = `kube/v${minor}`;
  const kube = await moduleVersion(module, "k8s.io/kubernetes");
  return { key, name, module, pkg: `k8s.io/kubernetes/cmd/${name}`, versionDir: `kube-${kube}`, ldflags: kubeVersionLdflags(kube) };
}

async function controlPlaneTargets(minor: string): Promise<BinaryTarget[]> {
  const module = `kube/v${minor}`;
  // The etcd server the release's own go.mod pins (its client is released against it): no new modules in the graph.
  const etcd = await moduleVersion(module, "go.etcd.io/etcd/server/v3");
  const kwok = await moduleVersion("kwok", "sigs.k8s.io/kwok");
  // kube-apiserver first: it compiles most of the shared packages, the others then mostly link.
  return [
    await kubeTarget(minor, "kubeApiserver", "kube-apiserver"),
    await kubeTarget(minor, "kubeControllerManager", "kube-controller-manager"),
    await kubeTarget(minor, "kubeScheduler", "kube-scheduler"),
    await kubeTarget(minor, "kubectl", "kubectl"),
    { key: "etcd", name: "etcd", module, pkg: "go.etcd.io/etcd/server/v3", versionDir: `etcd-${etcd}`, ldflags: [] },
    { key: "kwok", name: "kwok", module: "kwok", pkg: "sigs.k8s.io/kwok/cmd/kwok", versionDir: `kwok-${kwok}`, ldflags: [] },
  ];
}

function binaryPath(target: BinaryTarget): string {
  return join(cacheRoot(), target.versionDir, "bin", target.name);
}

function goBuild(target: BinaryTarget, output: string): Promise<void> {
  const tags = target.tags ? [`-tags=${target.tags.join(",")}`] : [];
  const args = ["-n", "10", "go", "build", "-mod=readonly", ...tags, `-ldflags=-s -w ${target.ldflags.join(" ")}`, "-o", output, target.pkg];
  // CGO off but where a target needs it: upstream builds these binaries statically; GOTOOLCHAIN=local fails clearly
  // rather than fetching a toolchain.
  const env = {
    ...process.env,
    CGO_ENABLED: target.cgo ? "1" : "0",
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
export async function ensureTargets(list: BinaryTarget[], options: BuildOptions): Promise<Record<string, string>> {
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

/** Paths of all control-plane binaries of one minor, building those not yet in the cache. */
export async function ensureBinaries(options: BuildOptions = {}): Promise<ControlPlaneBinaries> {
  const minor = options.minor ?? selectedKubeMinor();
  return (await ensureTargets(await controlPlaneTargets(minor), options)) as unknown as ControlPlaneBinaries;
}

/** kubectl of the selected minor, building it when missing. */
export async function ensureKubectl(options: BuildOptions = {}): Promise<string> {
  return (await ensureTargets([await kubeTarget(options.minor ?? selectedKubeMinor(), "kubectl", "kubectl")], options)).kubectl!;
}

/** A binary of a wrapper module other than ./kube, cached under `<dirPrefix>-<version of modulePath>`. */
async function moduleTarget(
  module: string,
  modulePath: string,
  dirPrefix: string,
  key: string,
  name: string,
  pkg: string,
  extra: Partial<BinaryTarget> = {},
): Promise<BinaryTarget> {
  const version = await moduleVersion(module, modulePath);
  return { key, name, module, pkg, versionDir: `${dirPrefix}-${version}`, ldflags: [], ...extra };
}

/**
 * The real node's binaries. kubelet and kube-proxy come from the wrapper module of `kubeletMinor`, which may be older
 * than the control plane's (kubelet may lag kube-apiserver by three minors); they are last, as they mostly link once
 * the control plane's binaries of the same module are built.
 */
export async function nodeTargets(kubeletMinor: string): Promise<BinaryTarget[]> {
  const containerd = "github.com/containerd/containerd/v2";
  const stamp = { ldflags: [`-X ${containerd}/version.Version=${await moduleVersion("containerd", containerd)}`] };
  const containerdTarget = (key: string, name: string) =>
    moduleTarget("containerd", containerd, "containerd", key, name, `${containerd}/cmd/${name}`, stamp);
  const runc = "github.com/opencontainers/runc";
  const runcVersion = await moduleVersion("runc", runc);
  const plugins = "github.com/containernetworking/plugins";
  const cni = (key: string, name: string, pkg: string) =>
    moduleTarget("cni", plugins, "cni-plugins", key, name, `${plugins}/plugins/${pkg}/${name}`);
  return [
    await containerdTarget("containerd", "containerd"),
    await containerdTarget("containerdShim", "containerd-shim-runc-v2"),
    await containerdTarget("ctr", "ctr"),
    await moduleTarget("runc", runc, "runc", "runc", "runc", runc, {
      cgo: true,
      tags: ["seccomp"],
      ldflags: [`-X main.version=${runcVersion.slice(1)}`],
    }),
    await cni("bridge", "bridge", "main"),
    await cni("hostLocal", "host-local", "ipam"),
    await cni("loopback", "loopback", "main"),
    await cni("portmap", "portmap", "meta"),
    // Keyed by main.go too: its plugin list is part of the binary.
    await moduleTarget("coredns", "github.com/coredns/coredns", `coredns-${await fileDigest("coredns/main.go")}`, "coredns", "coredns", "."),
    await kubeTarget(kubeletMinor, "kubelet", "kubelet"),
    await kubeTarget(kubeletMinor, "kubeProxy", "kube-proxy"),
  ];
}

/** Paths of the real node's binaries, building those not yet in the cache. */
export async function ensureNodeBinaries(options: BuildOptions & { kubeletMinor?: string } = {}): Promise<NodeBinaries> {
  const targets = await nodeTargets(options.kubeletMinor ?? options.minor ?? selectedKubeMinor());
  return (await ensureTargets(targets, options)) as unknown as NodeBinaries;
}

/** The versitygw binary (an S3-compatible server over a directory), built when not yet in the cache. */
export async function ensureS3Server(options: BuildOptions = {}): Promise<string> {
  const versitygw = "github.com/versity/versitygw";
  const target = await moduleTarget("s3", versitygw, "versitygw", "versitygw", "versitygw", `${versitygw}/cmd/versitygw`);
  return (await ensureTargets([target], options)).versitygw!;
}

if (import.meta.main) {
  const started = performance.now();
  const log = (line: string) => console.log(`[build] ${line}`);
  const minors = process.argv.includes("--all") ? kubeMinors() : [selectedKubeMinor()];
  const binaries: Record<string, unknown> = {};
  for (const minor of minors) binaries[minor] = await ensureBinaries({ log, minor });
  binaries.versitygw = await ensureS3Server({ log });
  if (process.argv.includes("--real")) binaries.node = await ensureNodeBinaries({ log });
  console.log(`[build] all binaries ready in ${((performance.now() - started) / 1000).toFixed(1)}s`);
  console.log(JSON.stringify(binaries, null, 2));
}
