// OCI image layouts as tarballs, the format `ctr images import` reads first (containerd's archive importer takes a
// tar with `oci-layout` and `index.json` as an OCI layout; only regular files count, so blobs are plain files) and
// names each image after the `io.containerd.image.name` annotation of its manifest in index.json.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { run } from "./run.ts";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** A gzip-compressed layer blob in the cache. */
export interface Layer {
  path: string;
  /** `sha256:…` of the compressed blob. */
  digest: string;
  size: number;
  /** `sha256:…` of the uncompressed tar: the config's rootfs.diff_ids entry, which containerd checks on unpack. */
  diffId: string;
}

/** What the image config's `config` says about running a container; the command is left to whoever runs it. */
export interface RunConfig {
  env: Record<string, string>;
  /** `uid:gid`, numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd. */
  user: string;
  cmd: string[];
  workingDir?: string;
}

function hashing(hash: ReturnType<typeof createHash>, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      count.bytes += chunk.length;
      callback(null, chunk);
    },
  });
}

/**
 * Packs `tar --create` of `tarArgs` (run in `cwd`) into a gzip layer blob at `path`, hashing both the tar (diffId)
 * and the blob (digest) as they stream. Owners are numeric: the image's /etc/passwd is not the host's.
 */
async function packLayer(cwd: string, tarArgs: string[], path: string): Promise<Layer> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  const tar = spawn("nice", ["-n", "10", "tar", "--create", "--numeric-owner", "--file=-", ...tarArgs], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  tar.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on("error", reject);
    tar.on("exit", resolve);
  });
  const uncompressed = createHash("sha256");
  const compressed = createHash("sha256");
  const size = { bytes: 0 };
  try {
    await pipeline(tar.stdout, hashing(uncompressed, { bytes: 0 }), createGzip({ level: 6 }), hashing(compressed, size), createWriteStream(partial));
    const code = await exited;
    if (code !== 0) throw new Error(`tar exited with ${code} in ${cwd}:\n${stderr.slice(-4000)}`);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return { path, digest: `sha256:${compressed.digest("hex")}`, size: size.bytes, diffId: `sha256:${uncompressed.digest("hex")}` };
}

function descriptor(mediaType: string, content: Buffer) {
  return { mediaType, digest: `sha256:${createHash("sha256").update(content).digest("hex")}`, size: content.length };
}

export interface ImageArchiveInput {
  /** Full reference, e.g. `strongroom.local/postgres:17-0123456789ab`. */
  ref: string;
  layers: Layer[];
  run: RunConfig;
  /** The archive to write (replaced atomically). */
  path: string;
}

/** Writes an OCI image layout holding one linux/amd64 image as a tarball at `input.path`. */
export async function writeImageArchive(input: ImageArchiveInput): Promise<void> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {
        Env: Object.entries(input.run.env).map(([name, value]) => `${name}=${value}`),
        User: input.run.user,
        Cmd: input.run.cmd,
        ...(input.run.workingDir ? { WorkingDir: input.run.workingDir } : {}),
      },
      rootfs: { type: "layers", diff_ids: input.layers.map((layer) => layer.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: descriptor(MEDIA_TYPES.config, config),
      layers: input.layers.map((layer) => ({ mediaType: MEDIA_TYPES.layer, digest: layer.digest, size: layer.size })),
    }),
  );
  const tag = input.ref.slice(input.ref.lastIndexOf(":") + 1);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        ...descriptor(MEDIA_TYPES.manifest, manifest),
        platform: { architecture: "amd64", os: "linux" },
        annotations: { "io.containerd.image.name": input.ref, "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  // The layout is staged beside the archive with the layer blobs hard-linked in, so they are not copied twice.
  const staging = await mkdtemp(`${input.path}.staging-`);
  try {
    const blobs = join(staging, "blobs", "sha256");
    await mkdir(blobs, { recursive: true });
    for (const layer of input.layers) await link(layer.path, join(blobs, layer.digest.slice("sha256:".length))).catch(ignoreExisting);
    for (const content of [config, manifest]) await writeFile(join(blobs, descriptor("", content).digest.slice("sha256:".length)), content);
    await writeFile(join(staging, "index.json"), JSON.stringify(index));
    await writeFile(join(staging, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    const partial = `${input.path}.${process.pid}.partial`;
    try {
      await run("tar", ["--create", "--numeric-owner", "--owner=0", "--group=0", `--file=${partial}`, "oci-layout", "index.json", "blobs"], { cwd: staging });
      await rename(partial, input.path);
    } finally {
      await rm(partial, { force: true });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function ignoreExisting(error: NodeJS.ErrnoException): void {
  if (error.code !== "EEXIST") throw error;
}

/** Packs the entries `paths` (relative to `root`, not recursing into directories) as `dir`/layer.tar.gz. */
export async function packEntries(root: string, paths: string[], dir: string): Promise<void> {
  const blob = join(dir, "layer.tar.gz");
  const listFile = `${blob}.list`;
  await writeFile(listFile, paths.sort().join("\0"));
  try {
    const layer = await packLayer(root, ["--no-recursion", "--null", `--files-from=${listFile}`], blob);
    await writeFile(`${blob}.json`, JSON.stringify(layer));
  } finally {
    await rm(listFile, { force: true });
  }
}
