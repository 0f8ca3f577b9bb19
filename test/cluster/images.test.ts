// The harness's images (images/images.ts), built through the cache (the first run on a machine is slow; later runs
// only hash): each archive is an OCI layout whose index, manifest, config and layers agree byte for byte, and each
// image's root filesystem, unpacked from its layers, runs what the engines and the agent call by name through the
// PATH its config sets, as the user the config names.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createGunzip } from "node:zlib";
import { cachedLayer, unmountUnder } from "./images/debian.ts";
import { ensureImages, IMAGE_NAMES, type BuiltImage, type ImageName } from "./images/images.ts";
import { run } from "./images/run.ts";

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

interface ImageConfig {
  architecture: string;
  os: string;
  config: { Env: string[]; User: string; Cmd: string[]; Entrypoint?: string[] };
  rootfs: { type: string; diff_ids: string[] };
}

async function sha256Of(path: string, gunzip = false): Promise<string> {
  const hash = createHash("sha256");
  const stream = gunzip ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** Reads the layout unpacked at `dir`, checking every descriptor against the blob it names. */
async function readLayout(dir: string): Promise<{ index: { manifests: Descriptor[] }; config: ImageConfig; layers: string[] }> {
  assert.deepEqual(JSON.parse(await readFile(join(dir, "oci-layout"), "utf8")), { imageLayoutVersion: "1.0.0" });
  const blob = async (descriptor: Descriptor, mediaType: string): Promise<string> => {
    assert.equal(descriptor.mediaType, mediaType);
    const path = join(dir, "blobs", ...descriptor.digest.split(":"));
    assert.equal((await stat(path)).size, descriptor.size, `size of ${descriptor.digest}`);
    assert.equal(await sha256Of(path), descriptor.digest);
    return path;
  };
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { mediaType: string; manifests: Descriptor[] };
  assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
  assert.equal(index.manifests.length, 1);
  const manifest = JSON.parse(await readFile(await blob(index.manifests[0]!, "application/vnd.oci.image.manifest.v1+json"), "utf8")) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  const config = JSON.parse(await readFile(await blob(manifest.config, "application/vnd.oci.image.config.v1+json"), "utf8")) as ImageConfig;
  const layers: string[] = [];
  for (const layer of manifest.layers) layers.push(await blob(layer, "application/vnd.oci.image.layer.v1.tar+gzip"));
  // containerd checks these when it unpacks: each diff_id is the digest of the uncompressed layer.
  assert.deepEqual(await Promise.all(layers.map((path) => sha256Of(path, true))), config.rootfs.diff_ids);
  return { index, config, layers };
}

/** Applies the layers in order as a container runtime does, whiteouts included. */
async function unpack(layers: string[], rootfs: string): Promise<void> {
  await mkdir(rootfs);
  for (const layer of layers) {
    await run("tar", ["--extract", "--gzip", "--numeric-owner", "--same-permissions", `--file=${layer}`, "-C", rootfs]);
    const whiteouts = (await run("find", [rootfs, "-name", ".wh.*"])).split("\n").filter(Boolean);
    for (const whiteout of whiteouts) {
      const slash = whiteout.lastIndexOf("/");
      await rm(join(whiteout.slice(0, slash), whiteout.slice(slash + 5)), { recursive: true, force: true });
      await rm(whiteout);
    }
  }
}

describe("harness images", { skip: process.getuid?.() === 0 ? false : "building the images needs root (debootstrap, chroot and mounts): run as root" }, () => {
  let images: Record<ImageName, BuiltImage>;
  let work: string;

  before(async () => {
    images = await ensureImages({ log: (line) => console.log(`[images] ${line}`) });
    work = await mkdtemp(join(tmpdir(), "strongroom-images-test-"));
  });

  after(async () => {
    if (work) {
      await unmountUnder(work);
      await rm(work, { recursive: true, force: true });
    }
  });

  /** Unpacks an image and runs `check` with a way to run commands in it through its config's PATH and user. */
  async function withImage(
    name: ImageName,
    check: (exec: (args: string[], user?: string) => Promise<string>, config: ImageConfig, rootfs: string) => Promise<void>,
  ): Promise<void> {
    const dir = join(work, name);
    await mkdir(join(dir, "layout"), { recursive: true });
    try {
      await run("tar", ["--extract", `--file=${images[name].archive}`, "-C", join(dir, "layout")]);
      const { index, config, layers } = await readLayout(join(dir, "layout"));
      assert.equal(index.manifests[0]!.annotations?.["io.containerd.image.name"], images[name].ref);
      assert.deepEqual(index.manifests[0]!.platform, { architecture: "amd64", os: "linux" });
      assert.equal(config.os, "linux");
      assert.equal(config.config.Entrypoint, undefined, "no entrypoint: every container states its own command");
      assert.match(config.config.User, /^[1-9]\d*:[1-9]\d*$/, "a numeric non-root user");
      const rootfs = join(dir, "rootfs");
      await unpack(layers, rootfs);
      // What a runtime mounts: the processes need /proc and /dev/null.
      await run("mount", ["-t", "proc", "proc", join(rootfs, "proc")]);
      await run("mount", ["--bind", "/dev", join(rootfs, "dev")]);
      const env = Object.fromEntries(config.config.Env.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
      assert.ok(env.PATH, "the config sets PATH");
      const exec = (args: string[], user = config.config.User) =>
        run("chroot", [`--userspec=${user}`, rootfs, ...args], { env: { ...env, HOME: "/tmp" } });
      await check(exec, config, rootfs);
    } finally {
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("builds every image, named by registry, version and content hash", () => {
    assert.deepEqual(Object.keys(images).sort(), [...IMAGE_NAMES].sort());
    for (const [name, image] of Object.entries(images)) {
      assert.match(image.ref, /^strongroom\.local\/[a-z]+:[0-9][\w.]*-[0-9a-f]{12}$/, name);
      assert.ok(existsSync(image.archive), name);
    }
    assert.match(images["postgres-17"].ref, /^strongroom\.local\/postgres:17-/);
    assert.match(images["postgres-15"].ref, /^strongroom\.local\/postgres:15-/);
  });

  it("a failed build leaves no mount and no partial directory behind", async () => {
    const dir = join(work, "failing-layer");
    let partial = "";
    const build = cachedLayer(dir, async (path) => {
      partial = path;
      // As a chroot install has them: a mount, and another mounted below it.
      await mkdir(join(path, "rootfs"));
      await run("mount", ["-t", "tmpfs", "tmpfs", join(path, "rootfs")]);
      await mkdir(join(path, "rootfs", "proc"));
      await run("mount", ["-t", "tmpfs", "tmpfs", join(path, "rootfs", "proc")]);
      throw new Error("apt-get install failed");
    });
    await assert.rejects(build, /apt-get install failed/);
    assert.notEqual(partial, "");
    assert.equal((await readFile("/proc/self/mountinfo", "utf8")).includes(partial), false, "still mounted");
    assert.equal(existsSync(partial), false);
    assert.equal(existsSync(dir), false);
  });

  for (const major of [15, 17] as const) {
    it(`postgres-${major}: the server's binaries on PATH, the postgres user at 999, initdb and the server work`, async () => {
      await withImage(`postgres-${major}`, async (exec, config) => {
        assert.equal(config.config.User, "999:999");
        for (const tool of ["postgres", "initdb", "pg_ctl", "pg_basebackup", "pg_rewind", "pg_upgrade", "psql"]) {
          assert.match(await exec([tool, "--version"]), new RegExp(`\\(PostgreSQL\\) ${major}\\.`), tool);
        }
        assert.equal((await exec(["id", "-u", "postgres"])).trim(), "999");
        assert.equal((await exec(["id", "-g", "postgres"])).trim(), "999");
        assert.match(await exec(["bash", "--version"]), /GNU bash/);
        // The engines' first start: initdb as the image's user, then the server answers on its socket.
        await exec(["initdb", "--pgdata=/tmp/pgdata", "--username=postgres", "--auth=trust"]);
        assert.match(await exec(["bash", "-c", "echo 'SHOW server_encoding;' | postgres --single -D /tmp/pgdata postgres"]), /server_encoding = "UTF8"/);
      });
    });
  }

  it("redis: redis-server and redis-cli on PATH, the redis user at 999", async () => {
    await withImage("redis", async (exec, config) => {
      assert.equal(config.config.User, "999:999");
      assert.match(await exec(["redis-server", "--version"]), /Redis server v=\d/);
      assert.match(await exec(["redis-cli", "--version"]), /redis-cli \d/);
      assert.equal((await exec(["id", "-u", "redis"])).trim(), "999");
      assert.equal((await exec(["id", "-g", "redis"])).trim(), "999");
    });
  });

  for (const name of IMAGE_NAMES.filter((image) => image.startsWith("etcd-"))) {
    it(`${name}: etcd, etcdctl and etcdutl of the release, and a shell for the Jobs`, async () => {
      await withImage(name, async (exec) => {
        const release = /:(\d+\.\d+\.\d+)-/.exec(images[name].ref)![1]!;
        assert.match(await exec(["etcd", "--version"]), new RegExp(`etcd Version: ${release.replaceAll(".", "\\.")}`));
        assert.match(await exec(["etcdctl", "version"]), new RegExp(`etcdctl version: ${release.replaceAll(".", "\\.")}`));
        assert.match(await exec(["etcdutl", "version"]), new RegExp(`etcdutl version: ${release.replaceAll(".", "\\.")}`));
        assert.equal((await exec(["sh", "-c", "echo $((6 * 7))"])).trim(), "42");
      });
    });
  }

  it("strongroom: Node 24, the server and agent commands, and the agent's tools", async () => {
    await withImage("strongroom", async (exec, config) => {
      assert.equal(config.config.User, "1000:1000");
      assert.deepEqual(config.config.Cmd.slice(0, 2), ["strongroom", "serve"]);
      assert.match(await exec(["node", "--version"]), /^v24\./);
      // Usage goes to stderr; exec rejects unless the command exits 0.
      assert.match(await exec(["sh", "-c", "strongroom agent --help 2>&1"]), /strongroom agent backup/);
      assert.match(await exec(["sh", "-c", "strongroom --help 2>&1"]), /strongroom serve/);
      for (const tool of ["pg_dump", "pg_restore", "pg_basebackup"]) assert.match(await exec([tool, "--version"]), /\(PostgreSQL\) 17\./, tool);
      assert.match(await exec(["zstd", "--version"]), /Zstandard/);
      assert.match(await exec(["redis-cli", "--version"]), /redis-cli \d/);
      assert.match(await exec(["etcdctl", "version"]), /etcdctl version: 3\.6\./);
      assert.match(await exec(["etcdutl", "version"]), /etcdutl version: 3\.6\./);
    });
  });
});
