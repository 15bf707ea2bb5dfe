import type { Frame } from '../audio/frame';
import type { MediaCounters } from '../metrics';
import type { AudioBudget } from './audio-budget';

export interface JitterBufferOptions {
  /** Frames to hold before playing out; grows on underruns up to `maxTarget`. */
  readonly startFrames: number;
  readonly maxTarget: number;
  /** Hard bound on frames held; beyond it the oldest frame is dropped and counted. */
  readonly capacity: number;
  /**
   * For steady sources (a phone stream): adapt the target to the jitter seen, and drop a frame when the
   * buffer has run fuller than needed for a second, so latency shrinks back after a burst. Sources that
   * send ahead on purpose (an agent's speech) keep what they sent.
   */
  readonly adaptive: boolean;
  /**
   * For sources that may send ahead (agents): frames queued beyond the first `free` each draw `frameBytes` from
   * `from` (the room's budget), given back as they play out or are dropped. A frame the budget refuses is not queued.
   */
  readonly budget?: { readonly from: AudioBudget; readonly frameBytes: number; readonly free: number };
  /**
   * The server's counts, besides the buffer's own: frames dropped over capacity or trimmed, and the underruns of an
   * adaptive (steady) source; a source that sends ahead on purpose runs dry whenever it stops speaking, which is no fault.
   */
  readonly counters: Pick<MediaCounters, 'underruns' | 'trimmedFrames' | 'droppedFramesIn'>;
}

export interface JitterStats {
  readonly depth: number;
  readonly target: number;
  /** Times the buffer ran dry while playing. */
  readonly underruns: number;
  /** Frames dropped: over capacity, or trimmed to bring latency back down. */
  readonly dropped: number;
}

type Entry = Frame | { readonly checkpoint: string };

const TRIM_AFTER_TICKS = 50;
/** Checkpoints waiting for their audio to play out; a sender that needs more is not waiting for audio. */
export const MAX_PENDING_CHECKPOINTS = 64;
const SHRINK_AFTER_TICKS = 500;

/**
 * A participant's inbound audio between arrival and the room's 20 ms tick. It starts playing once
 * `target` frames are in (1 by default: 20 ms of added latency at most), then hands out one frame per
 * tick. Checkpoint markers ride in the same queue, so a checkpoint fires once the audio before it is out.
 */
export class JitterBuffer {
  private entries: Entry[] = [];
  private head = 0;
  private frames = 0;
  private checkpoints = 0;
  private playing = false;
  private target: number;
  private fullTicks = 0;
  private steadyTicks = 0;
  private underruns = 0;
  private dropped = 0;

  constructor(private readonly options: JitterBufferOptions) {
    this.target = options.startFrames;
  }

  /** Queues `frame`; false (and not queued) when the budget it would draw on is spent. */
  push(frame: Frame): boolean {
    if (this.frames >= this.options.capacity) this.dropOldestFrame('droppedFramesIn');
    const budget = this.options.budget;
    if (budget && this.frames >= budget.free && !budget.from.take(budget.frameBytes)) return false;
    this.entries.push(frame);
    this.frames++;
    return true;
  }

  /** Queues a checkpoint behind the audio queued so far; false (and not queued) when too many wait already. */
  pushCheckpoint(name: string): boolean {
    if (this.checkpoints >= MAX_PENDING_CHECKPOINTS) return false;
    this.entries.push({ checkpoint: name });
    this.checkpoints++;
    return true;
  }

  /** Drops every queued frame (barge-in); checkpoints stay, so they still fire. Returns how many. */
  clear(): number {
    const cleared = this.frames;
    this.entries = this.entries.slice(this.head).filter((entry) => 'checkpoint' in entry);
    this.head = 0;
    this.removed(cleared);
    this.playing = false;
    return cleared;
  }

  /** The frame for this tick, or null; checkpoints met on the way are handed to `onCheckpoint`. */
  pull(onCheckpoint: (name: string) => void): Frame | null {
    this.fireCheckpoints(onCheckpoint);
    if (!this.playing) {
      if (this.frames < this.target) return null;
      this.playing = true;
    }
    if (this.frames === 0) {
      this.playing = false;
      this.underruns++;
      if (this.options.adaptive) {
        this.options.counters.underruns++;
        if (this.target < this.options.maxTarget) this.target++;
      }
      this.steadyTicks = 0;
      return null;
    }
    if (this.options.adaptive) this.adapt();
    const frame = this.shift();
    this.fireCheckpoints(onCheckpoint);
    return frame;
  }

  get stats(): JitterStats {
    return { depth: this.frames, target: this.target, underruns: this.underruns, dropped: this.dropped };
  }

  private adapt(): void {
    this.fullTicks = this.frames > this.target + 1 ? this.fullTicks + 1 : 0;
    if (this.fullTicks >= TRIM_AFTER_TICKS) {
      this.dropOldestFrame('trimmedFrames');
      this.fullTicks = 0;
    }
    if (++this.steadyTicks >= SHRINK_AFTER_TICKS && this.target > this.options.startFrames) {
      this.target--;
      this.steadyTicks = 0;
    }
  }

  private fireCheckpoints(onCheckpoint: (name: string) => void): void {
    for (let entry = this.entries[this.head]; entry && 'checkpoint' in entry; entry = this.entries[this.head]) {
      this.head++;
      this.checkpoints--;
      onCheckpoint(entry.checkpoint);
    }
    this.compact();
  }

  private shift(): Frame {
    const frame = this.entries[this.head++] as Frame;
    this.removed(1);
    this.compact();
    return frame;
  }

  /** Drops the oldest frame, counted for the server as `why`. */
  private dropOldestFrame(why: 'trimmedFrames' | 'droppedFramesIn'): void {
    const index = this.entries.findIndex((entry, i) => i >= this.head && !('checkpoint' in entry));
    if (index < 0) return;
    this.entries.splice(index, 1);
    this.removed(1);
    this.dropped++;
    this.options.counters[why]++;
  }

  /** `count` frames left the queue: what those beyond the free ones drew goes back to the budget. */
  private removed(count: number): void {
    const budget = this.options.budget;
    const drawn = budget ? Math.min(count, this.frames - budget.free) : 0;
    if (budget && drawn > 0) budget.from.give(drawn * budget.frameBytes);
    this.frames -= count;
  }

  /** Keeps the array from growing forever: reclaim the consumed prefix once it is large. */
  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
