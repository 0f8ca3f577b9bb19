import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { writeKubeconfig, type KubeconfigOptions } from '../../src/server/kubeconfig.ts';

// Stand-ins: a kubeconfig embeds PEM text without reading it.
const OPTIONS: KubeconfigOptions = {
  server: 'https://127.0.0.1:8443',
  caPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  clientCertPem: '-----BEGIN CERTIFICATE-----\nADMIN\n-----END CERTIFICATE-----\n',
  clientKeyPem: '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n',
  contextName: 'strongroom',
};

const base64 = (s: string) => Buffer.from(s).toString('base64');

describe('writeKubeconfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-kubeconfig-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes cluster, user and context under one name with the PEMs embedded as base64', () => {
    const path = join(dir, 'nested', 'kubeconfig');
    writeKubeconfig(path, OPTIONS);
    assert.deepEqual(parse(readFileSync(path, 'utf8')), {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'strongroom', cluster: { server: OPTIONS.server, 'certificate-authority-data': base64(OPTIONS.caPem) } }],
      users: [
        {
          name: 'strongroom',
          user: { 'client-certificate-data': base64(OPTIONS.clientCertPem), 'client-key-data': base64(OPTIONS.clientKeyPem) },
        },
      ],
      contexts: [{ name: 'strongroom', context: { cluster: 'strongroom', user: 'strongroom' } }],
      'current-context': 'strongroom',
      preferences: {},
    });
  });

  it('is read by client-node as kubectl would read it', () => {
    const path = join(dir, 'client-node');
    writeKubeconfig(path, { ...OPTIONS, contextName: 'dev', caPem: 'x'.repeat(3000) });
    const config = new KubeConfig();
    config.loadFromFile(path);
    assert.equal(config.getCurrentContext(), 'dev');
    assert.equal(config.getCurrentCluster()?.server, OPTIONS.server);
    assert.equal(config.getCurrentCluster()?.caData, base64('x'.repeat(3000)), 'long base64 is not folded');
    assert.equal(config.getCurrentUser()?.keyData, base64(OPTIONS.clientKeyPem));
  });

  it('leaves the file readable by its owner only, even when replacing a world-readable one', () => {
    const path = join(dir, 'replaced');
    writeFileSync(path, 'old');
    chmodSync(path, 0o644);
    writeKubeconfig(path, OPTIONS);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(readFileSync(path, 'utf8'), /current-context: strongroom/);
  });
});
