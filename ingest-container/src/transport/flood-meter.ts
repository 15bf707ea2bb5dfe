/**
 * Whole seconds since the process started, advanced by one timer for every meter: a meter's check is then a count
 * and a comparison, cheap enough for every message of every connection.
 */
let second = 0;
setInterval(() => second++, 1000).unref();

/** The coarse clock meters count by, in whole seconds. */
export const coarseSeconds = (): number => second;

/**
 * Counts what a source sends per one-second window (bytes, or messages at one unit each): more than
 * `factor` times its real-time rate within one window is a flood.
 */
export class FloodMeter {
  private window = second;
  private units = 0;
  private readonly limit: number;

  constructor(realTimePerSecond: number, factor = 10) {
    this.limit = factor * realTimePerSecond;
  }

  /** Adds `units` (bytes, or 1 for a message); true once this window is over the limit. */
  exceeded(units: number): boolean {
    if (this.window !== second) {
      this.window = second;
      this.units = 0;
    }
    this.units += units;
    return this.units > this.limit;
  }
}
