// The real node's own small images, made from Debian's busybox-static: no registry is reachable, and containerd
// needs a local sandbox ("pause") image before it can start any pod. One layer (busybox and its applet links) serves
// two images: `busybox` for tests' pods (a shell, wget, nslookup, nc) and `pause`, whose entrypoint just sleeps —
// containerd stops sandboxes with SIGKILL, so the sleeper need not handle signals as upstream's pause does.
// Written as one OCI layout archive for `ctr images import`, cached by busybox's package version.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, stat, symlink, copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cacheRoot } from "./build.ts";
import { runCommand } from "./process.ts";

export interface NodeImages {
  /** OCI layout archive holding both images. */
  archive: string;
  busybox: string;
  pause: string;
}

const busyboxBinary = "/bin/busybox";
const registry = "strongroom.local";

const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function busyboxVersion(): Promise<string> {
  const version = (await runCommand("dpkg-query", ["-W", "-f=${Version}", "busybox-static"]).catch(() => "")).trim();
  if (!version || !existsSync(busyboxBinary)) {
    throw new Error("the real node's images need Debian's busybox-static package (apt-get install busybox-static)");
  }
  return version;
}

/** A deterministic tar of busybox and its applet links: the same package version always gives the same digest. */
async function packRootfs(work: string): Promise<Buffer> {
  const rootfs = join(work, "rootfs");
  await mkdir(join(rootfs, "bin"), { recursive: true });
  await mkdir(join(rootfs, "tmp"), { mode: 0o1777 });
  await mkdir(join(rootfs, "etc"));
  await copyFile(busyboxBinary, join(rootfs, "bin", "busybox"));
  const applets = (await runCommand(busyboxBinary, ["--list"])).split("\n").filter((name) => name && name !== "busybox");
  for (const applet of applets) await symlink("busybox", join(rootfs, "bin", applet));
  // nobody exists, so `runAsUser: 65534` and `id` agree; root for everything else.
  await writeFile(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
  await writeFile(join(rootfs, "etc", "group"), "root:x:0:\nnobody:x:65534:\n");
  const layer = join(work, "layer.tar");
  await runCommand("tar", [
    "--create", "--file", layer, "--directory", rootfs, "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
    "--numeric-owner", ".",
  ]);
  return readFile(layer);
}

interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

const blob = (data: Buffer): Blob => ({ digest: sha256(data), size: data.length, data });
const json = (value: unknown): Blob => blob(Buffer.from(JSON.stringify(value)));

function image(layer: Blob, entrypoint: string[], cmd: string[]): { config: Blob; manifest: Blob } {
  const config = json({
    architecture: "amd64",
    os: "linux",
    config: { Entrypoint: entrypoint, Cmd: cmd, Env: ["PATH=/bin"], WorkingDir: "/" },
    // Uncompressed layer: its digest is its diff ID.
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config.digest, size: config.size },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer.digest, size: layer.size }],
  });
  return { config, manifest };
}

/** The archive and image references, building the archive when the cache has none for this busybox version. */
export async function ensureNodeImages(): Promise<NodeImages> {
  const version = await busyboxVersion();
  const tag = version.replace(/^\d+:/, "").replaceAll(/[^A-Za-z0-9_.-]/g, "_");
  const busybox = `${registry}/busybox:${tag}`;
  const pause = `${registry}/pause:${tag}`;
  const archive = join(cacheRoot(), `node-images-${tag}`, "images.tar");
  if (existsSync(archive) && (await stat(archive)).size > 0) return { archive, busybox, pause };

  await mkdir(join(cacheRoot(), `node-images-${tag}`), { recursive: true });
  const work = await mkdtemp(`${archive}.work-`);
  try {
    const layer = blob(await packRootfs(work));
    const images = [
      { ref: busybox, ...image(layer, [], ["sh"]) },
      // The largest sleep busybox accepts everywhere: about 68 years.
      { ref: pause, ...image(layer, ["/bin/sleep", "2147483647"], []) },
    ];
    const layout = join(work, "layout");
    await mkdir(join(layout, "blobs", "sha256"), { recursive: true });
    for (const { digest, data } of [layer, ...images.flatMap((entry) => [entry.config, entry.manifest])]) {
      await writeFile(join(layout, "blobs", "sha256", digest.slice("sha256:".length)), data);
    }
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await writeFile(join(layout, "index.json"), JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: images.map(({ ref, manifest }) => ({
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: manifest.digest,
        size: manifest.size,
        platform: { architecture: "amd64", os: "linux" },
        // containerd names an imported image after this annotation.
        annotations: { "io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag },
      })),
    }));
    const partial = join(work, "images.tar");
    await runCommand("tar", ["--create", "--file", partial, "--directory", layout, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "."]);
    // Renamed into place: a concurrent or interrupted build never leaves a half-written archive.
    await rename(partial, archive);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { archive, busybox, pause };
}
