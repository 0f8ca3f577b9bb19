// The serve command's storage flags: --storage and the --etcd-* flags, named as kube-apiserver's.
import type { EtcdStorageOptions } from '../storage/etcd.ts';

export const STORAGE_OPTIONS = {
  storage: { type: 'string', default: 'sqlite' },
  'etcd-servers': { type: 'string' },
  'etcd-prefix': { type: 'string' },
  'etcd-cafile': { type: 'string' },
  'etcd-certfile': { type: 'string' },
  'etcd-keyfile': { type: 'string' },
} as const;

const ETCD_FLAGS = ['etcd-servers', 'etcd-prefix', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile'] as const;

export type StorageFlags = { storage?: string } & Partial<Record<(typeof ETCD_FLAGS)[number], string>>;

/** The server's etcd settings from the flags; undefined for SQLite. */
export function etcdOptionsFromFlags(flags: StorageFlags): EtcdStorageOptions | undefined {
  const given = ETCD_FLAGS.filter((flag) => flags[flag] !== undefined).map((flag) => `--${flag}`);
  if (flags.storage === 'sqlite') {
    // Refused rather than ignored: replicas that silently kept SQLite would each hold objects of their own.
    if (given.length > 0) throw new Error(`${given.join(', ')}: only with --storage=etcd`);
    return undefined;
  }
  if (flags.storage !== 'etcd') throw new Error(`--storage: sqlite or etcd, not ${flags.storage}`);
  const servers = (flags['etcd-servers'] ?? '').split(',').map((server) => server.trim()).filter(Boolean);
  if (servers.length === 0) throw new Error('--storage=etcd needs --etcd-servers');
  return {
    servers,
    prefix: flags['etcd-prefix'],
    caFile: flags['etcd-cafile'],
    certFile: flags['etcd-certfile'],
    keyFile: flags['etcd-keyfile'],
  };
}
