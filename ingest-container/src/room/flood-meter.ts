/**
 * Counts what a source sends per one-second window (bytes, or messages at one unit each): more than
 * `factor` times its real-time rate within one window is a flood.
 */
export class FloodMeter {
  private windowStart = performance.now();
  private bytes = 0;
  private readonly limit: number;

  constructor(realTimePerSecond: number, factor = 10) {
    this.limit = factor * realTimePerSecond;
  }

  /** Adds `bytes` (or units); true once this window is over the limit. */
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
