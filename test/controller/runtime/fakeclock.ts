// A Clock whose time moves only when a test says so; due timers fire in time order as it moves.
import type { Clock, TimerHandle } from '../../../src/controller/runtime/clock.ts';

interface Timer {
  at: number;
  seq: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private timers = new Map<number, Timer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const seq = ++this.seq;
    this.timers.set(seq, { at: this.time + Math.max(0, ms), seq, callback });
    return seq;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Timers not yet fired. */
  pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order (timers they set included). */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = [...this.timers.values()]
        .filter((timer) => timer.at <= until)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers.delete(next.seq);
      this.time = next.at;
      next.callback();
    }
    this.time = until;
  }
}

/** Lets pending promise callbacks and immediates run (a worker's next step after an await). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
