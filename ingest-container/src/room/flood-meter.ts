/**
 * Counts a source's bytes per one-second window: more than ten times its real-time rate within one
 * window is a flood.
 */
export class FloodMeter {
  private windowStart = performance.now();
  private bytes = 0;
  private readonly limit: number;

  constructor(realTimeBytesPerSecond: number) {
    this.limit = 10 * realTimeBytesPerSecond;
  }

  /** Adds `bytes`; true once this window is over the limit. */
  exceeded(bytes: number): boolean {
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.bytes = 0;
    }
    this.bytes += bytes;
    return this.bytes > this.limit;
  }
}
