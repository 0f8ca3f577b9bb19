// etcd through its own tools: `etcdctl snapshot save` of the member the endpoint reaches (the whole keyspace, with
// its integrity hash appended by etcd), restored with `etcdutl snapshot restore` (`etcdctl snapshot restore` on
// 3.4, which has no etcdutl) into a fresh data directory for the stopped member, under the member's name and the
// cluster's initial configuration, swapped in for the old one.
//
// etcdctl writes the snapshot only to a file it fsyncs and renames, so the snapshot is saved into the scratch
// directory first and streamed from there; etcd's database is bounded by its quota (2 GiB by default, 8 GiB at most).
import { rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Connection, EngineAdapter } from '../adapter.ts';
import { required } from '../adapter.ts';
import { replaceDirectory, stageFile } from '../../agent/datadir.ts';
import { execTool, onPath, runTool, type ToolOptions } from '../../agent/tool.ts';

function toolOptions(connection: Connection, signal?: AbortSignal): ToolOptions {
  // etcdctl reads every flag from ETCDCTL_<FLAG>: the password never appears on its command line.
  const env: Record<string, string> = { ETCDCTL_API: '3' };
  if (connection.password) {
    env['ETCDCTL_USER'] = connection.username ?? 'root';
    env['ETCDCTL_PASSWORD'] = connection.password;
  }
  return { env, secrets: [connection.password ?? ''], signal };
}

function endpoint(connection: Connection): string {
  return `http://${connection.host.includes(':') ? `[${connection.host}]` : connection.host}:${connection.port}`;
}

export const adapter: EngineAdapter = {

  archiveFormat() {
    return 'db';
  },

  checkTarget(_method, target) {
    required(target.dataDir, '--data-dir', 'etcd');
    required(target.etcdMember?.name, '--etcd-name', 'etcd');
    required(target.etcdMember?.initialCluster, '--etcd-initial-cluster', 'etcd');
    required(target.etcdMember?.initialAdvertisePeerUrls, '--etcd-initial-advertise-peer-urls', 'etcd');
  },

  async backup({ connection, scratchDir, signal }) {
    const options = toolOptions(connection, signal);
    const endpoints = `--endpoints=${endpoint(connection)}`;
    const [status] = JSON.parse(await runTool('etcdctl', [endpoints, 'endpoint', 'status', '--write-out=json'], options)) as {
      Status: { version: string; dbSize: number };
    }[];
    const file = join(scratchDir, `snapshot-${process.pid}.db`);
    try {
      await execTool('etcdctl', [endpoints, 'snapshot', 'save', file], options);
      const size = (await stat(file)).size;
      const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
      stream.once('close', () => void rm(file, { force: true }));
      return { stream, engineVersion: status?.Status.version ?? 'unknown', bytesTotal: size };
    } catch (error) {
      await rm(file, { force: true });
      await rm(`${file}.part`, { force: true });
      throw error;
    }
  },

  async restore({ target, archive, scratchDir, signal }) {
    const member = target.etcdMember!;
    const tool = (await onPath('etcdutl')) ? 'etcdutl' : 'etcdctl';
    const file = await stageFile(archive, scratchDir, 'db', signal);
    await replaceDirectory(target.dataDir!, (dir) =>
      execTool(
        tool,
        [
          'snapshot',
          'restore',
          file,
          `--data-dir=${dir}`,
          `--name=${member.name}`,
          `--initial-cluster=${member.initialCluster}`,
          `--initial-advertise-peer-urls=${member.initialAdvertisePeerUrls}`,
          `--initial-cluster-token=${member.initialClusterToken}`,
        ],
        { env: { ETCDCTL_API: '3' }, signal },
      ),
    ).finally(() => rm(file, { force: true }));
  },
};
