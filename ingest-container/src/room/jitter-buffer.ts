import { FRAME_MS, type Frame } from '../audio/frame';
import type { MediaCounters } from '../metrics';
import type { AudioBudget } from './audio-budget';

export interface JitterBufferOptions {
  /** Frames to hold before playing out; a steady source's target after an underrun adds what its jitter needs, up to `maxTarget`. */
  readonly startFrames: number;
  readonly maxTarget: number;
  /** Hard bound on frames held; beyond it the oldest frame is dropped and counted. */
  readonly capacity: number;
  /**
   * For steady sources (a phone stream, a browser): measure the jitter of their arrivals (call `arrived()` once per
   * message) and set the target from it after each underrun; and when the buffer has run a frame fuller than its
   * target for a whole second (longer while catching up keeps ending in underruns), skip the next quiet frame (or, if none comes within 10 s, trim one anyway), so latency
   * comes back down after a late frame. Sources that send ahead on purpose (an agent's speech) keep what they sent.
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
  readonly counters: Pick<MediaCounters, 'underruns' | 'trimmedFrames' | 'skippedQuietFrames' | 'droppedFramesIn'>;
  /** The monotonic clock (ms) a steady source's arrivals are timed on. @default performance.now */
  readonly now?: () => number;
}

export interface JitterStats {
  readonly depth: number;
  readonly target: number;
  /** Times the buffer ran dry while playing. */
  readonly underruns: number;
  /** Frames dropped: over capacity, or trimmed to bring latency back down. */
  readonly dropped: number;
  /** Quiet frames skipped, unheard, to bring latency back down. */
  readonly skipped: number;
  /** A steady source's interarrival jitter (RFC 3550's J, ms, to 0.1); 0 for others. */
  readonly jitterMs: number;
}

type Entry = Frame | { readonly checkpoint: string };

/** Checkpoints waiting for their audio to play out; a sender that needs more is not waiting for audio. */
export const MAX_PENDING_CHECKPOINTS = 64;
/** A steady source's low-water mark is taken over this many ticks (1 s): a whole window above target is a surplus. */
const WINDOW_TICKS = 50;
/**
 * An underrun within this many ticks (10 s) of letting a frame of surplus go says the stream needed it (late frames
 * that recur): the window doubles, up to `MAX_WINDOW_TICKS` (16 s); as long without one, it halves again.
 */
const REGRET_TICKS = 500;
const MAX_WINDOW_TICKS = 800;
/** A surplus frame that met no quiet frame to skip within this many ticks (10 s: music on hold) is trimmed anyway. */
const SKIP_WITHIN_TICKS = 500;
/**
 * Frames of headroom per frame time of jitter: target = startFrames + floor(JITTER_HEADROOM * J / 20 ms). Arrivals
 * scattered evenly over +-a give J = 2a/3, so 3J is their whole spread (2a): +-15 ms (J 10 ms) gets one frame more.
 * One late frame (late by L, J rises about L/8) raises nothing unless L is over 50 ms and another underrun follows
 * while J is still up (it decays by 1/16 a message).
 */
const JITTER_HEADROOM = 3;
/**
 * A single frame of surplus goes only if the newest frame always came at least this long (plus 2 J) before the tick
 * that pulled: a frame shallower, that frame would have been the one played, so a stream whose frames come just before
 * the tick (its phase, which J cannot see) keeps the frame that stops it running dry on a 1 ms slip. (With two or more
 * frames over, one can go whatever the phase.)
 */
const MIN_SLACK_MS = 4;

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
  private underruns = 0;
  private dropped = 0;
  private skipped = 0;
  // A steady source's jitter statistic (RFC 3550, 6.4.1): when its last message came, with how many frames.
  private readonly now: () => number;
  private jitterMs = 0;
  private lastArrival = NaN;
  private lastArrivalFrames = 0;
  private framesSinceArrival = 0;
  // Its low-water mark: the fewest frames held at a pull in this window, and a surplus frame waiting for a quiet one.
  private lowWater = Infinity;
  /** The least time, in this window, between the newest frame's arrival and a pull. */
  private minSlack = Infinity;
  private window = WINDOW_TICKS;
  private windowTicks = 0;
  /** Ticks played since a frame of surplus last went; Infinity when none went or an underrun answered it. */
  private sinceCatchUp = Infinity;
  /** Ticks a surplus frame has waited for a quiet frame to skip; -1 when there is none. */
  private surplusTicks = -1;

  constructor(private readonly options: JitterBufferOptions) {
    this.target = options.startFrames;
    this.now = options.now ?? (() => performance.now());
  }

  /** Queues `frame`; false (and not queued) when the budget it would draw on is spent. */
  push(frame: Frame): boolean {
    if (this.frames >= this.options.capacity) this.dropOldestFrame();
    const budget = this.options.budget;
    if (budget && this.frames >= budget.free && !budget.from.take(budget.frameBytes)) return false;
    this.entries.push(frame);
    this.frames++;
    if (this.options.adaptive) this.framesSinceArrival++;
    return true;
  }

  /**
   * The frames pushed since the last call came in one message, now: a steady source's jitter J moves 1/16 of the way
   * to |D|, D = the gap since the previous message - 20 ms for each frame that one carried. A gap longer than the
   * deepest target could cover is a pause in sending or an outage, not jitter, and so is a burst that far early: they
   * only restart the timing.
   */
  arrived(): void {
    if (this.framesSinceArrival === 0) return;
    const now = this.now();
    const d = now - this.lastArrival - FRAME_MS * this.lastArrivalFrames;
    // NaN (no message before this one) is not <= anything. A burst after a stall (many frames at once, far early) is
    // no more jitter than the stall was.
    if (Math.abs(d) <= FRAME_MS * this.options.maxTarget) this.jitterMs += (Math.abs(d) - this.jitterMs) / 16;
    this.lastArrival = now;
    this.lastArrivalFrames = this.framesSinceArrival;
    this.framesSinceArrival = 0;
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
    this.stopPlaying();
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
      this.stopPlaying();
      this.underruns++;
      if (this.options.adaptive) {
        this.options.counters.underruns++;
        if (this.sinceCatchUp < REGRET_TICKS) this.window = Math.min(2 * this.window, MAX_WINDOW_TICKS);
        this.sinceCatchUp = Infinity;
        const { startFrames, maxTarget } = this.options;
        this.target = Math.min(maxTarget, startFrames + Math.floor((JITTER_HEADROOM * this.jitterMs) / FRAME_MS));
      }
      return null;
    }
    if (this.options.adaptive) this.adapt(onCheckpoint);
    const frame = this.shift();
    this.fireCheckpoints(onCheckpoint);
    return frame;
  }

  get stats(): JitterStats {
    const { frames: depth, target, underruns, dropped, skipped } = this;
    return { depth, target, underruns, dropped, skipped, jitterMs: Math.round(this.jitterMs * 10) / 10 };
  }

  /**
   * A steady source, about to play: keeps the window's low-water mark, lets a surplus frame go (the frame about to
   * play, if quiet, else after SKIP_WITHIN_TICKS any), and at the window's end finds a surplus if the buffer never
   * held fewer than target + 1 frames and its newest frame always came well before the pull (MIN_SLACK_MS + 2 J): the
   * stream runs a frame later than its jitter and its phase against the tick need. The window is 1 s, longer
   * while catching up keeps ending in underruns: J sees no lateness that comes seldom, or that comes just as the tick
   * does (a stream whose frames arrive at the tick's moment runs dry on a 1 ms slip).
   */
  private adapt(onCheckpoint: (name: string) => void): void {
    if (this.frames < this.lowWater) this.lowWater = this.frames;
    const slack = this.now() - this.lastArrival;
    if (slack < this.minSlack) this.minSlack = slack;
    if (this.surplusTicks >= 0) this.letSurplusGo(onCheckpoint);
    if (++this.sinceCatchUp === REGRET_TICKS && this.window > WINDOW_TICKS) this.window /= 2;
    if (++this.windowTicks >= this.window) {
      if (this.surplusTicks < 0 && (this.lowWater > this.target + 1 || (this.lowWater > this.target && this.minSlack >= MIN_SLACK_MS + 2 * this.jitterMs))) this.surplusTicks = 0;
      this.lowWater = this.minSlack = Infinity;
      this.windowTicks = 0;
    }
  }

  private letSurplusGo(onCheckpoint: (name: string) => void): void {
    // A late frame since took the surplus back.
    if (this.frames <= this.target) {
      this.surplusTicks = -1;
      return;
    }
    const quiet = (this.entries[this.head] as Frame).quiet;
    if (!quiet && ++this.surplusTicks < SKIP_WITHIN_TICKS) return;
    this.shift();
    if (quiet) {
      this.skipped++;
      this.options.counters.skippedQuietFrames++;
    } else {
      this.dropped++;
      this.options.counters.trimmedFrames++;
    }
    this.surplusTicks = -1;
    this.sinceCatchUp = 0;
    this.fireCheckpoints(onCheckpoint);
  }

  /** Waits for `target` frames again; a steady source's window starts over once it plays. */
  private stopPlaying(): void {
    this.playing = false;
    this.lowWater = this.minSlack = Infinity;
    this.windowTicks = 0;
    this.surplusTicks = -1;
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

  /** Drops the oldest frame to make room, counted for the server. */
  private dropOldestFrame(): void {
    const index = this.entries.findIndex((entry, i) => i >= this.head && !('checkpoint' in entry));
    if (index < 0) return;
    this.entries.splice(index, 1);
    this.removed(1);
    this.dropped++;
    this.options.counters.droppedFramesIn++;
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
