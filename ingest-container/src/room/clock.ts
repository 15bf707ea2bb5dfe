import { FRAME_MS } from '../audio/frame';

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

  constructor(private readonly onError: (err: unknown) => void) {}

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
    if (behind > MAX_CATCH_UP_TICKS) this.next += behind * FRAME_MS;
    while (this.next <= performance.now() && this.timer) {
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
