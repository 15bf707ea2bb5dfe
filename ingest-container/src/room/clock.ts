import { FRAME_MS } from '../audio/frame';
import type { MediaCounters } from '../metrics';

export interface Ticking {
  tick(): void;
}

/** Ticks further behind than this are skipped rather than run back to back. */
const MAX_CATCH_UP_TICKS = 5;

/**
 * One 20 ms clock for every room on the server (never a timer per call): a drift-free schedule of
 * `start + n * 20 ms`, run with one timer, stopped while there is no room.
 */
export class MediaClock {
  private readonly members = new Set<Ticking>();
  private timer: NodeJS.Timeout | null = null;
  private next = 0;

  constructor(
    private readonly onError: (err: unknown) => void,
    /** Where the ticks run at least a frame late (or skipped) are counted: the event loop was busy past a frame. */
    private readonly counters: Pick<MediaCounters, 'lateTicks'>,
  ) {}

  add(member: Ticking): void {
    this.members.add(member);
    if (!this.timer) {
      this.next = performance.now() + FRAME_MS;
      this.schedule();
    }
  }

  delete(member: Ticking): void {
    this.members.delete(member);
    if (this.members.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.run(), Math.max(0, this.next - performance.now()));
  }

  private run(): void {
    const behind = Math.floor((performance.now() - this.next) / FRAME_MS);
    if (behind > MAX_CATCH_UP_TICKS) {
      // Skipped: those frames go out later still, or never.
      this.counters.lateTicks += behind;
      this.next += behind * FRAME_MS;
    }
    for (let now = performance.now(); this.next <= now && this.timer; now = performance.now()) {
      // A tick (or one a slow tick held up) that runs a whole frame after its time.
      if (now - this.next >= FRAME_MS) this.counters.lateTicks++;
      for (const member of this.members) {
        try {
          member.tick();
        } catch (err) {
          this.onError(err);
        }
      }
      this.next += FRAME_MS;
    }
    if (this.timer) this.schedule();
  }
}
