// Watch delivery: many watchers on one collection, then writes one at a time; for each write and each watcher, the
// time from sending the write until that watcher has the event's line.
import { performance } from 'node:perf_hooks';
import type { BenchClient } from './client.ts';

export interface WatchDelivery {
  /** Per (write, watcher): ms from sending the write to the event line's arrival. */
  deliveryMs: number[];
  /** Per write: ms from sending it to its acknowledgement. */
  ackMs: number[];
  /** Per (write, watcher): ms from the acknowledgement to the arrival; negative when the event came first. */
  afterAckMs: number[];
}

/** Handshakes in flight at once while the watchers connect. */
const CONNECT_PARALLELISM = 50;
const EVENT_TIMEOUT_MS = 60_000;

interface Watcher {
  arrivals: number[];
  firstLine: string;
  close(): void;
}

/**
 * Opens `watchers` streams on `watchPath`, then calls `write(k)` for k = 0..writes-1, each once every watcher has
 * the previous write's event. The watchers must see nothing but these writes (no bookmarks, no initial events).
 */
export async function measureWatchDelivery(
  client: BenchClient,
  options: { watchers: number; writes: number; watchPath: string; write: (k: number) => Promise<unknown> },
): Promise<WatchDelivery> {
  let target = 0;
  let reached = 0;
  let allReached: () => void = () => {};
  const watchers: Watcher[] = [];
  try {
    for (let i = 0; i < options.watchers; i += CONNECT_PARALLELISM) {
      const batch = Math.min(CONNECT_PARALLELISM, options.watchers - i);
      const opened = await Promise.all(Array.from({ length: batch }, () => client.openStream(options.watchPath)));
      for (const { response, close } of opened) {
        const watcher: Watcher = { arrivals: [], firstLine: '', close };
        // Only the clock and a newline count here: parsing would delay the watchers read after this one.
        response.on('data', (chunk: Buffer) => {
          const now = performance.now();
          if (watcher.arrivals.length === 0) watcher.firstLine += chunk.toString('utf8');
          for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) watcher.arrivals.push(now);
          if (watcher.arrivals.length === target) {
            reached++;
            if (reached === watchers.length) allReached();
          }
        });
        watchers.push(watcher);
      }
    }

    const sentAt: number[] = [];
    const ackedAt: number[] = [];
    for (let k = 0; k < options.writes; k++) {
      target = k + 1;
      reached = 0;
      const delivered = new Promise<void>((resolve) => (allReached = resolve));
      sentAt.push(performance.now());
      await options.write(k);
      ackedAt.push(performance.now());
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`write ${k}: ${reached} of ${watchers.length} watchers had its event after ${EVENT_TIMEOUT_MS} ms`)),
          EVENT_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([delivered, timedOut]);
      } finally {
        clearTimeout(timer);
      }
    }

    for (const watcher of watchers) {
      const line = watcher.firstLine.slice(0, watcher.firstLine.indexOf('\n'));
      const type = (JSON.parse(line) as { type?: string }).type;
      if (type !== 'MODIFIED') throw new Error(`a watcher's first event is ${type}, not MODIFIED: ${line.slice(0, 300)}`);
      if (watcher.arrivals.length !== options.writes) {
        throw new Error(`a watcher had ${watcher.arrivals.length} events for ${options.writes} writes`);
      }
    }
    const deliveryMs: number[] = [];
    const afterAckMs: number[] = [];
    for (const watcher of watchers) {
      watcher.arrivals.forEach((arrival, k) => {
        deliveryMs.push(arrival - sentAt[k]!);
        afterAckMs.push(arrival - ackedAt[k]!);
      });
    }
    return { deliveryMs, afterAckMs, ackMs: ackedAt.map((acked, k) => acked - sentAt[k]!) };
  } finally {
    for (const watcher of watchers) watcher.close();
  }
}
