// etcd, etcdctl and etcdutl of one etcd minor, built by ../build.ts from the wrapper module ./etcd-<minor> (the three
// are separate Go modules of one release, so the wrapper pins all three). The engine"s etcd image carries them, and
// Strongroom"s image carries etcdctl and etcdutl for the agent.
import { type BinaryTarget, ensureTargets, moduleVersion } from "../build.ts";

export interface EtcdBinaries {
  /** The release, e.g. `v3.6.4`. */
  version: string;
  etcd: string;
  etcdctl: string;
  etcdutl: string;
}

/** The minors built here, newest first; each has a wrapper module ./etcd-<minor>. */
export const ETCD_MINORS = ["3.6", "3.5"] as const;
export type EtcdMinor = (typeof ETCD_MINORS)[number];

export async function ensureEtcdBinaries(minor: EtcdMinor, log?: (line: string) => void): Promise<EtcdBinaries> {
  const module = `images/etcd-${minor}`;
  const version = await moduleVersion(module, "go.etcd.io/etcd/server/v3");
  // The same cache directory as the control plane"s etcd of that release: one release, one set of binaries.
  const target = (name: string, pkg: string): BinaryTarget => ({ key: name, name, module, pkg, versionDir: `etcd-${version}`, ldflags: [] });
  const built = await ensureTargets(
    [
      target("etcd", "go.etcd.io/etcd/server/v3"),
      target("etcdctl", "go.etcd.io/etcd/etcdctl/v3"),
      target("etcdutl", "go.etcd.io/etcd/etcdutl/v3"),
    ],
    { log },
  );
  return { version, etcd: built.etcd!, etcdctl: built.etcdctl!, etcdutl: built.etcdutl! };
}
