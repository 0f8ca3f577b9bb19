// What a real node could leave behind on the host, as comparable text: network namespaces, links, routes, mounts,
// iptables and nftables rules, cgroups, the kernel tunables kubelet writes, the node's processes and the paths
// containerd and CNI use by default. A test takes it before and after a run and expects no difference.
import { existsSync } from "node:fs";
import { readdir, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { NodeBinaries } from "./build.ts";
import { runCommand } from "./process.ts";
import { kernelTunables } from "./realnode.ts";

export type HostState = Record<string, string[]>;

const defaultPaths = ["/run/containerd", "/var/lib/containerd", "/opt/containerd", "/var/lib/cni", "/var/run/nri", "/var/lib/kubelet", "/var/log/pods"];

const lines = (text: string): string[] => text.split("\n").map((line) => line.trimEnd()).filter(Boolean);

/** iptables-save without its timestamps and packet counters, which change on their own. */
async function iptablesRules(): Promise<string[]> {
  return lines(await runCommand("iptables-save", []))
    .filter((line) => !line.startsWith("#"))
    .map((line) => line.replace(/\[\d+:\d+\]/, ""));
}

async function nodeProcesses(binaries: NodeBinaries): Promise<string[]> {
  const ours = new Set(await Promise.all(Object.values(binaries).map((path) => realpath(path).catch(() => path))));
  const found: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const exe = await realpath(`/proc/${entry}/exe`).catch(() => "");
    if (ours.has(exe)) found.push(`${entry} ${exe}`);
  }
  return found;
}

async function cgroups(): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await readdir("/sys/fs/cgroup")) {
    const entries = await readdir(join("/sys/fs/cgroup", hierarchy), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) found.push(`${hierarchy}/${entry.name}`);
  }
  return found.sort();
}

export async function hostState(binaries: NodeBinaries): Promise<HostState> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  return {
    netns: lines(await runCommand("ip", ["netns", "list"])).sort(),
    links: lines(await runCommand("ip", ["-o", "link", "show"])).map((line) => line.split(": ")[1]!).sort(),
    routes: lines(await runCommand("ip", ["route", "show", "table", "all"])).sort(),
    mounts: lines(mountinfo).map((line) => line.split(" ")[4]!).sort(),
    iptables: await iptablesRules(),
    nftables: lines(await runCommand("nft", ["list", "ruleset"])),
    cgroups: await cgroups(),
    tunables: await Promise.all(kernelTunables.map(async (path) => `${path}=${(await readFile(path, "utf8")).trim()}`)),
    processes: await nodeProcesses(binaries),
    paths: defaultPaths.filter((path) => existsSync(path)),
  };
}
