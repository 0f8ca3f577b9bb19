import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { etcdOptionsFromFlags, type StorageFlags } from '../../src/cli/storage.ts';

describe('the storage flags of serve', () => {
  const accepted: [string, StorageFlags, ReturnType<typeof etcdOptionsFromFlags>][] = [
    ['SQLite by default', { storage: 'sqlite' }, undefined],
    [
      'etcd with its servers, prefix and mTLS files',
      {
        storage: 'etcd',
        'etcd-servers': 'https://etcd-0:2379, https://etcd-1:2379,',
        'etcd-prefix': '/registry/x/',
        'etcd-cafile': 'ca.crt',
        'etcd-certfile': 'client.crt',
        'etcd-keyfile': 'client.key',
      },
      { servers: ['https://etcd-0:2379', 'https://etcd-1:2379'], prefix: '/registry/x/', caFile: 'ca.crt', certFile: 'client.crt', keyFile: 'client.key' },
    ],
  ];
  for (const [name, flags, expected] of accepted) {
    it(`accepts ${name}`, () => assert.deepEqual(etcdOptionsFromFlags(flags), expected));
  }

  const refused: [string, StorageFlags, RegExp][] = [
    ['etcd flags while the storage is SQLite', { storage: 'sqlite', 'etcd-servers': 'http://e:2379', 'etcd-cafile': 'ca' }, /--etcd-servers, --etcd-cafile: only with --storage=etcd/],
    ['etcd without servers', { storage: 'etcd', 'etcd-servers': ' , ' }, /needs --etcd-servers/],
    ['an unknown storage', { storage: 'mysql' }, /sqlite or etcd, not mysql/],
  ];
  for (const [name, flags, message] of refused) {
    it(`refuses ${name}`, () => assert.throws(() => etcdOptionsFromFlags(flags), message));
  }
});
