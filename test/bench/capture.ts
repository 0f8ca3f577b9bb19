// Records what Strongroom answers to each request the bench makes, for the bare server to replay.
import { answer, type Fixtures } from './fixtures.ts';
import type { BenchClient } from './client.ts';
import { COLLECTION, GROUP_PATH, labelPatch, listPages, MERGE_PATCH, objectName } from './scenarios.ts';

/** The newest resourceVersion of the collection, for a watch that must replay nothing. */
export async function currentResourceVersion(client: BenchClient): Promise<string> {
  const reply = await client.expect(200, 'GET', `${COLLECTION}?limit=1`);
  return (JSON.parse(reply.body.toString('utf8')) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
}

export function watchPath(resourceVersion: string): string {
  return `${COLLECTION}?watch=1&resourceVersion=${resourceVersion}`;
}

/** Captures every answer; writes one object (`watched`) and creates one outside the seeded namespace. */
export async function captureFixtures(client: BenchClient, objects: number, pageSize: number, watched: string): Promise<Fixtures> {
  const get = await client.expect(200, 'GET', `${COLLECTION}/${objectName(Math.floor(objects / 2))}`);
  const list = await client.expect(200, 'GET', COLLECTION);
  const pages = await listPages(client, pageSize);

  const manifest = { apiVersion: 'strongroom.dev/v1alpha1', kind: 'Database', metadata: { name: objectName(0) }, spec: { engine: 'postgres' } };
  const create = await client.expect(201, 'POST', `${GROUP_PATH}/namespaces/bench-capture/databases`, JSON.stringify(manifest));

  const stream = await client.openStream(watchPath(await currentResourceVersion(client)));
  let received = '';
  const event = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no watch event for the PATCH of ${watched} within 30 s`)), 30_000);
    stream.response.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const nl = received.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      resolve(Buffer.from(received.slice(0, nl + 1)));
    });
  });
  const update = await client.expect(200, 'PATCH', `${COLLECTION}/${watched}`, labelPatch(0, 'capture'), MERGE_PATCH);
  const line = await event;
  stream.close();

  return {
    get: answer(get.status, get.headers, get.body),
    list: answer(list.status, list.headers, list.body),
    pages: pages.map(({ continue: token, reply }) => ({ ...answer(reply.status, reply.headers, reply.body), continue: token })),
    create: answer(create.status, create.headers, create.body),
    update: answer(update.status, update.headers, update.body),
    watch: answer(stream.response.statusCode ?? 200, stream.response.headers, Buffer.alloc(0)),
    event: line,
  };
}
