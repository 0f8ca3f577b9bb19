import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { createCA, issueServingCert, type CertKeyPair } from '../../src/server/pki.ts';
import { loadServingOptions, watchCertificates } from '../../src/server/tls.ts';

/** Serial number of the certificate a new connection is served. */
function servedSerial(server: Server): Promise<string> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()!.serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

const serial = (pair: CertKeyPair) => new X509Certificate(pair.certPem).serialNumber;

/** Records reload outcomes and lets a test wait for the next one it cares about. */
function reloadRecorder() {
  const waiters: Array<{ wantError: boolean; resolve: (error?: unknown) => void }> = [];
  return {
    onReload(error?: unknown) {
      const index = waiters.findIndex((w) => w.wantError === (error !== undefined));
      if (index >= 0) waiters.splice(index, 1)[0]!.resolve(error);
    },
    next(wantError = false): Promise<unknown> {
      return new Promise((resolve) => waiters.push({ wantError, resolve }));
    },
  };
}

describe('serving TLS', () => {
  let ca: CertKeyPair;
  let first: CertKeyPair;
  let second: CertKeyPair;
  const root = mkdtempSync(join(tmpdir(), 'strongroom-tls-'));
  const servers: Server[] = [];
  const stops: Array<() => void> = [];

  before(async () => {
    ca = await createCA('serving-ca');
    [first, second] = await Promise.all([
      issueServingCert(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
      issueServingCert(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    ]);
  });
  after(() => {
    for (const stop of stops) stop();
    for (const server of servers) server.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function listen(options: object): Promise<Server> {
    const server = createServer(options, (_req, res) => res.end('ok'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  it('requests client certificates without requiring them, and advertises the client CAs', () => {
    const dir = join(root, 'options');
    mkdirSync(dir);
    writeFileSync(join(dir, 'tls.crt'), first.certPem);
    writeFileSync(join(dir, 'tls.key'), first.keyPem);
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    const serving = loadServingOptions({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCAFiles: [join(dir, 'ca.crt')] });
    assert.equal(serving.options.requestCert, true);
    assert.equal(serving.options.rejectUnauthorized, false);
    assert.deepEqual(serving.options.ca, [ca.certPem]);
    assert.equal(serving.options.cert, first.certPem);
    assert.deepEqual(serving.clientCAs(), [ca.certPem]);

    writeFileSync(join(dir, 'tls.key'), second.keyPem);
    assert.throws(() => serving.reload(), /key values mismatch/);
    assert.deepEqual(serving.clientCAs(), [ca.certPem], 'a failed reload changes nothing');
  });

  const layouts = [
    {
      name: 'files replaced by rename',
      setup(dir: string, pair: CertKeyPair) {
        writeFileSync(join(dir, 'tls.key'), pair.keyPem);
        writeFileSync(join(dir, 'tls.crt'), pair.certPem);
      },
      replace(dir: string, pair: CertKeyPair) {
        for (const [name, data] of [['tls.key', pair.keyPem], ['tls.crt', pair.certPem]] as const) {
          writeFileSync(join(dir, `.${name}.new`), data);
          renameSync(join(dir, `.${name}.new`), join(dir, name));
        }
      },
    },
    {
      // kubelet's AtomicWriter: files are symlinks through `..data`, which is swapped to a new timestamped directory.
      name: 'a Kubernetes secret volume update',
      setup(dir: string, pair: CertKeyPair) {
        mkdirSync(join(dir, '..v1'));
        writeFileSync(join(dir, '..v1', 'tls.key'), pair.keyPem);
        writeFileSync(join(dir, '..v1', 'tls.crt'), pair.certPem);
        symlinkSync('..v1', join(dir, '..data'));
        symlinkSync('..data/tls.key', join(dir, 'tls.key'));
        symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
      },
      replace(dir: string, pair: CertKeyPair) {
        mkdirSync(join(dir, '..v2'));
        writeFileSync(join(dir, '..v2', 'tls.key'), pair.keyPem);
        writeFileSync(join(dir, '..v2', 'tls.crt'), pair.certPem);
        symlinkSync('..v2', join(dir, '..data_tmp'));
        renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
        rmSync(join(dir, '..v1'), { recursive: true });
      },
    },
  ];

  for (const layout of layouts) {
    it(`serves a new certificate on the next connection after ${layout.name}`, async () => {
      const dir = join(root, layout.name.replaceAll(' ', '-'));
      mkdirSync(dir);
      layout.setup(dir, first);
      const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCAFiles: [] };
      const serving = loadServingOptions(files);
      const server = await listen(serving.options);
      const reloads = reloadRecorder();
      stops.push(watchCertificates(server, [files.certFile, files.keyFile], () => serving.reload(), { debounceMs: 20, onReload: reloads.onReload }));
      assert.equal(await servedSerial(server), serial(first));

      const reloaded = reloads.next();
      layout.replace(dir, second);
      await reloaded;
      assert.equal(await servedSerial(server), serial(second));
    });
  }

  it('keeps serving the old certificate while the files do not match, and picks up the completed update', async () => {
    const dir = join(root, 'half-written');
    mkdirSync(dir);
    writeFileSync(join(dir, 'tls.crt'), first.certPem);
    writeFileSync(join(dir, 'tls.key'), first.keyPem);
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), clientCAFiles: [] };
    const serving = loadServingOptions(files);
    const server = await listen(serving.options);
    const reloads = reloadRecorder();
    stops.push(watchCertificates(server, [files.certFile, files.keyFile], () => serving.reload(), { debounceMs: 20, onReload: reloads.onReload }));

    const failed = reloads.next(true);
    writeFileSync(join(dir, 'tls.crt'), second.certPem);
    assert.match(String(await failed), /key values mismatch/);
    assert.equal(await servedSerial(server), serial(first));

    const reloaded = reloads.next();
    writeFileSync(join(dir, 'tls.key'), second.keyPem);
    await reloaded;
    assert.equal(await servedSerial(server), serial(second));
  });
});
