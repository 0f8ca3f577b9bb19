// The answers Strongroom gave, captured so the bare server can return the very same bytes and headers. Stored as a
// manifest plus one file per body, exactly as received.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Fixtures {
  get: Answer;
  list: Answer;
  /** The pages of a paginated list, in order; `continue` is the token that asks for each (empty for the first). */
  pages: Array<Answer & { continue: string }>;
  create: Answer;
  update: Answer;
  /** The watch response's status and headers; its body is the event lines. */
  watch: Answer;
  /** One watch event line, newline included, as a watcher received it. */
  event: Buffer;
}

/** Headers that describe the connection or the framing, which each server sets for itself. */
const HOP_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

export function answer(status: number, headers: IncomingHttpHeaders, body: Buffer): Answer {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_HEADERS.has(name) && value !== undefined) kept[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { status, headers: kept, body };
}

type StoredAnswer = Omit<Answer, 'body'> & { file: string };

export function writeFixtures(dir: string, fixtures: Fixtures): void {
  mkdirSync(dir, { recursive: true });
  const store = (name: string, a: Answer): StoredAnswer => {
    writeFileSync(join(dir, name), a.body);
    return { status: a.status, headers: a.headers, file: name };
  };
  writeFileSync(join(dir, 'event.json'), fixtures.event);
  const manifest = {
    get: store('get.json', fixtures.get),
    list: store('list.json', fixtures.list),
    pages: fixtures.pages.map((page, i) => ({ ...store(`page-${i}.json`, page), continue: page.continue })),
    create: store('create.json', fixtures.create),
    update: store('update.json', fixtures.update),
    watch: store('watch.json', fixtures.watch),
  };
  writeFileSync(join(dir, 'fixtures.json'), JSON.stringify(manifest, null, 2));
}

export function readFixtures(dir: string): Fixtures {
  const manifest = JSON.parse(readFileSync(join(dir, 'fixtures.json'), 'utf8'));
  const load = (a: StoredAnswer): Answer => ({ status: a.status, headers: a.headers, body: readFileSync(join(dir, a.file)) });
  return {
    get: load(manifest.get),
    list: load(manifest.list),
    pages: manifest.pages.map((page: StoredAnswer & { continue: string }) => ({ ...load(page), continue: page.continue })),
    create: load(manifest.create),
    update: load(manifest.update),
    watch: load(manifest.watch),
    event: readFileSync(join(dir, 'event.json')),
  };
}
