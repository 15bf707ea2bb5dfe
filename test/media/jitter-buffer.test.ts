import { Frame } from '../../ingest-container/src/audio/frame';
import { mulawEncode } from '../../core/mulaw';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { newMediaCounters } from '../../ingest-container/src/metrics';

const frame = (n: number) => Frame.fromPcm(8000, new Int16Array(160).fill(n));
const valueOf = (f: Frame | null) => (f ? f.pcm[0] : null);
/** A phone's frame as Plivo sends it: a 700 Hz tone at `amplitude`, or digital silence (0xff) at 0. */
const phoneFrame = (amplitude: number) =>
  Frame.fromMulawBase64(Buffer.from(mulawEncode(Int16Array.from({ length: 160 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 700 * i) / 8000))))).toString('base64'));

/**
 * A steady source through an adaptive buffer on an injected clock: frame i arrives at `arrivalAt(i)` ms (in order, as
 * over TCP: never before the one ahead of it), one message each, and the room ticks at 20k + 10 ms. What tick k played
 * is `played[k]`: the frame's index, or null.
 */
function playThrough(jb: JitterBuffer, clock: { ms: number }, frames: readonly Frame[], arrivalAt: (i: number) => number, ticks: number, onTick?: (tick: number) => void) {
  const played: (number | null)[] = [];
  const fired: { name: string; tick: number }[] = [];
  let next = 0;
  let last = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const tickAt = 20 * tick + 10;
    for (; next < frames.length && Math.max(last, arrivalAt(next)) <= tickAt; next++) {
      clock.ms = last = Math.max(last, arrivalAt(next));
      jb.push(frames[next] as Frame);
      jb.arrived();
    }
    clock.ms = tickAt;
    const frame = jb.pull((name) => fired.push({ name, tick }));
    played.push(frame ? frames.indexOf(frame) : null);
    onTick?.(tick);
  }
  return { played, fired };
}

describe('jitter buffer', () => {
  /** The server's counts, which every buffer counts its drops and a steady source's underruns into. */
  let counters = newMediaCounters();
  beforeEach(() => (counters = newMediaCounters()));

  it('plays one frame per pull once its target is met, and counts an underrun when it runs dry', () => {
    const jb = new JitterBuffer({ startFrames: 1, maxTarget: 4, capacity: 10, adaptive: true, counters });
    const none = () => undefined;
    expect(jb.pull(none)).toBeNull();
    jb.push(frame(1));
    jb.push(frame(2));
    expect([valueOf(jb.pull(none)), valueOf(jb.pull(none))]).toEqual([1, 2]);
    expect(jb.pull(none)).toBeNull();
    // No jitter measured: one underrun does not raise the target.
    expect(jb.stats).toMatchObject({ underruns: 1, target: 1, jitterMs: 0 });
    expect(counters).toMatchObject({ underruns: 1, trimmedFrames: 0, droppedFramesIn: 0 });
    jb.push(frame(3));
    expect(valueOf(jb.pull(none))).toBe(3);
  });

  it('stays bounded: over capacity the oldest frame is dropped and counted', () => {
    const jb = new JitterBuffer({ startFrames: 1, maxTarget: 4, capacity: 3, adaptive: false, counters });
    for (let i = 1; i <= 5; i++) jb.push(frame(i));
    expect(jb.stats).toMatchObject({ depth: 3, dropped: 2 });
    expect(counters).toMatchObject({ droppedFramesIn: 2, trimmedFrames: 0 });
    expect(valueOf(jb.pull(() => undefined))).toBe(3);
  });

  it('fires a checkpoint once the audio queued before it is out, and keeps it across a clear', () => {
    const jb = new JitterBuffer({ startFrames: 1, maxTarget: 4, capacity: 10, adaptive: false, counters });
    const fired: string[] = [];
    jb.push(frame(1));
    jb.pushCheckpoint('after-1');
    jb.push(frame(2));
    jb.pushCheckpoint('after-2');
    expect(valueOf(jb.pull((n) => fired.push(n)))).toBe(1);
    expect(fired).toEqual(['after-1']);
    expect(jb.clear()).toBe(1);
    expect(jb.pull((n) => fired.push(n))).toBeNull();
    expect(fired).toEqual(['after-1', 'after-2']);
  });

  it('holds at most 64 checkpoints waiting for audio that does not play; each that fires frees a place', () => {
    const jb = new JitterBuffer({ startFrames: 2, maxTarget: 4, capacity: 10, adaptive: false, counters });
    jb.push(frame(1)); // one short of the two it waits for: nothing plays
    const queued = Array.from({ length: 100 }, (_, i) => jb.pushCheckpoint(`c${i}`));
    expect(queued.filter(Boolean)).toHaveLength(64);
    expect(queued.slice(0, 64).every(Boolean)).toBe(true);
    const fired: string[] = [];
    jb.push(frame(2));
    jb.pull((n) => fired.push(n));
    expect(fired).toHaveLength(64);
    expect(jb.pushCheckpoint('again')).toBe(true);
  });

  it('counts the underruns of a source that sends ahead (an agent stopping speaking) for itself, not for the server', () => {
    const jb = new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters });
    jb.push(frame(1));
    jb.pull(() => undefined);
    expect(jb.pull(() => undefined)).toBeNull();
    expect(jb.stats.underruns).toBe(1);
    expect(counters.underruns).toBe(0);
  });

  it('draws frames beyond its own from its room’s budget within the server’s, refuses past either, and gives them back as frames play, drop or clear', () => {
    const FRAME = 320;
    const server = new AudioBudget(10 * FRAME);
    const [roomA, roomB] = [new AudioBudget(5 * FRAME, server), new AudioBudget(6 * FRAME, server)];
    const agent = (room: AudioBudget, capacity = 8) => new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity, adaptive: false, budget: { from: room, frameBytes: FRAME, free: 2 }, counters });
    const [a, b] = [agent(roomA), agent(roomB, 20)];
    const pushed = (jb: JitterBuffer, n: number) => Array.from({ length: n }, (_, i) => jb.push(frame(i))).filter(Boolean).length;
    // Two of its own and five from room A: the next is over the room's budget.
    expect(pushed(a, 8)).toBe(7);
    // Two of its own; room B has six frames left but the server five: the sixth is over the server's.
    expect(pushed(b, 8)).toBe(7);
    // A frame played out gives its draw back to both.
    a.pull(() => undefined);
    expect(pushed(b, 2)).toBe(1);
    b.clear();
    expect(pushed(b, 5)).toBe(5);
    b.clear();
    // At capacity the oldest frame is dropped, its draw given back before the new one draws: never refused for that.
    const full = agent(roomB, 4);
    expect(pushed(full, 6)).toBe(6);
    expect(full.stats).toMatchObject({ depth: 4, dropped: 2 });
    a.clear();
    full.clear();
    // Everything is given back: the server's whole budget is free again.
    expect(server.take(10 * FRAME)).toBe(true);
  });
  describe('a steady source', () => {
    const clock = { ms: 0 };
    const adaptive = (startFrames = 1) => new JitterBuffer({ startFrames, maxTarget: 8, capacity: 50, adaptive: true, counters, now: () => clock.ms });
    /** Frame 100 is 25 ms late, so frame 101 comes with it: one underrun, then a frame more queued than needed. */
    const oneLate = (i: number) => 20 * i + (i === 100 ? 25 : 0);

    it('skips only quiet frames: digital silence, or every sample below -45 dBFS (184), as mu-law or as PCM', () => {
      const pcm = (peak: number) => Int16Array.from({ length: 160 }, (_, i) => (i === 80 ? peak : 0));
      const quiet = (peak: number) => [Frame.fromPcm(16000, pcm(peak)), Frame.fromMulaw(mulawEncode(pcm(peak))), Frame.fromPcm(8000, pcm(-peak))].map((f) => f.quiet);
      expect([phoneFrame(0).quiet, phoneFrame(100).quiet, phoneFrame(3000).quiet]).toEqual([true, true, false]);
      expect(quiet(150)).toEqual([true, true, true]);
      expect(quiet(250)).toEqual([false, false, false]);
    });

    it('times its arrivals as RFC 3550 says: J moves 1/16 of the way to |D|; a pause no target covers is not jitter', () => {
      const jb = adaptive();
      // [arrival ms, frames in the message]; D = the gap - 20 ms a frame of the message before.
      const messages: [number, number][] = [[0, 1], [20, 1], [56, 1], [76, 2], [116, 1], [2000, 1], [2036, 1], [2056, 10], [2076, 1]];
      const j: number[] = [];
      for (const [at, count] of messages) {
        clock.ms = at;
        for (let i = 0; i < count; i++) jb.push(phoneFrame(3000));
        jb.arrived();
        j.push(jb.stats.jitterMs);
      }
      // D: none, 0, +16 (J 1), 0 (J 0.9375), 0 (two frames, 40 ms: J 0.879), a 1.9 s pause (ignored), +16 (J 1.824),
      // 0 (J 1.71), then ten frames' worth early, 180 ms (a burst: ignored, as the pause was).
      expect(j).toEqual([0, 0, 1, 0.9, 0.9, 0.9, 1.8, 1.7, 1.7]);
      // A buffer that is not adaptive (an agent's) measures nothing.
      const agent = new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters, now: () => clock.ms });
      for (const [at] of messages) {
        clock.ms = at;
        agent.push(phoneFrame(3000));
        agent.arrived();
      }
      expect(agent.stats.jitterMs).toBe(0);
    });

    it('one late frame: one underrun, the target stays, and the frame of surplus goes at the first quiet frame, no loud one dropped', () => {
      const jb = adaptive();
      // Speech, with a pause (frames 160-169 quiet: silence, then a murmur below -45 dBFS) and one checkpoint after frame 160.
      const frames = Array.from({ length: 300 }, (_, i) => (i === 160 || i === 161 ? phoneFrame(0) : i > 161 && i < 170 ? phoneFrame(100) : phoneFrame(3000)));
      const depths: number[] = [];
      let checkpointAt = -1;
      const { played, fired } = playThrough(jb, clock, frames, oneLate, 300, (tick) => {
        depths[tick] = jb.stats.depth;
        // Frame 160 is in (it came at 3200 ms), frame 161 not yet.
        if (tick === 160) checkpointAt = Number(jb.pushCheckpoint('after-160'));
      });
      expect(checkpointAt).toBe(1);
      expect(jb.stats).toMatchObject({ underruns: 1, target: 1, skipped: 1, dropped: 0 });
      expect(counters).toMatchObject({ underruns: 1, skippedQuietFrames: 1, trimmedFrames: 0, droppedFramesIn: 0 });
      // Tick k (at 20k + 10 ms) played frame k until the late frame, k - 1 after it: 20 ms later.
      expect(played.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, k) => k));
      expect(played[100]).toBeNull();
      expect(played.slice(101, 160)).toEqual(Array.from({ length: 59 }, (_, k) => 100 + k));
      expect(depths.slice(101, 160).every((depth) => depth === 1)).toBe(true);
      // Within a second the surplus was found; frame 160, the first quiet one, was skipped: frame 161 played at tick 161.
      expect(played.slice(160, 300)).toEqual([159, ...Array.from({ length: 139 }, (_, k) => 161 + k)]);
      expect(depths.slice(161).every((depth) => depth === 0)).toBe(true);
      // The checkpoint queued behind the skipped frame fired as it was skipped.
      expect(fired).toEqual([{ name: 'after-160', tick: 161 }]);
    });

    it('one late frame in audio that is never quiet (music on hold): the surplus frame is trimmed after 10 s, not before', () => {
      const jb = adaptive();
      const frames = Array.from({ length: 800 }, () => phoneFrame(3000));
      let trimmedAt = -1;
      const { played } = playThrough(jb, clock, frames, oneLate, 800, (tick) => {
        if (trimmedAt < 0 && counters.trimmedFrames > 0) trimmedAt = tick;
      });
      // The surplus is found within a second of the underrun (tick 100), then waits 10 s for a quiet frame.
      expect(trimmedAt).toBeGreaterThanOrEqual(100 + 500);
      expect(trimmedAt).toBeLessThanOrEqual(100 + 50 + 500);
      expect(played[trimmedAt - 1]).toBe(trimmedAt - 2);
      expect(played[trimmedAt]).toBe(trimmedAt);
      expect(jb.stats).toMatchObject({ underruns: 1, target: 1, skipped: 0, dropped: 1 });
      expect(counters).toMatchObject({ underruns: 1, skippedQuietFrames: 0, trimmedFrames: 1 });
    });

    it('late frames that recur (one every 3 s for 30 s): catching up twice ends in underruns, so it looks longer and keeps the frame until they stop', () => {
      const jb = adaptive();
      const frames = Array.from({ length: 3000 }, (_, i) => phoneFrame(i % 25 === 0 ? 0 : 3000));
      const { played } = playThrough(jb, clock, frames, (i) => 20 * i + (i % 150 === 100 && i < 1500 ? 25 : 0), 3000);
      // Without looking longer, each late frame would be an underrun: 10 in the 30 s.
      expect(jb.stats.underruns).toBe(3);
      expect(counters).toMatchObject({ underruns: 3, trimmedFrames: 0 });
      // Then it ran a frame later, hearing everything, until a long window (4 s) after the last late frame.
      expect(played.slice(1400, 1500)).toEqual(Array.from({ length: 100 }, (_, k) => 1400 + k - 1));
      expect(jb.stats.skipped).toBe(3);
      expect(played.slice(-100)).toEqual(Array.from({ length: 100 }, (_, k) => 2900 + k));
    });

    it('frames that come just before the tick (1 ms; every 3 s, 1 ms after): the frame the first underrun left is kept, not skipped, so it does not run dry again', () => {
      const jb = adaptive();
      // Ticks at 20k + 10 ms; frame i comes at 20i + 9, every 150th at 20i + 11: just after its tick. J stays near 0.
      const frames = Array.from({ length: 3000 }, (_, i) => phoneFrame(i % 25 === 0 ? 0 : 3000));
      const { played } = playThrough(jb, clock, frames, (i) => 20 * i + (i % 150 === 100 ? 11 : 9), 3000);
      // Seconds pass with a frame more than needed, but letting it go in a pause (every 25th frame is quiet) would leave
      // the stream to run dry at the next slip: 1 ms of slack is no surplus.
      expect(jb.stats).toMatchObject({ underruns: 1, target: 1, skipped: 0, dropped: 0 });
      expect(counters).toMatchObject({ underruns: 1, skippedQuietFrames: 0, trimmedFrames: 0 });
      expect(played.slice(-100)).toEqual(Array.from({ length: 100 }, (_, k) => 2900 + k - 1));
    });

    it('a jittery source (arrivals scattered +-15 ms and more, normal, sigma 9 ms): its target rises to 2 and stays; few underruns', () => {
      const jb = adaptive();
      let seed = 42;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const offsets = Array.from({ length: 3000 }, () => 9 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
      // Quiet now and then (a frame in 25), so a surplus could go unheard.
      const frames = Array.from({ length: 3000 }, (_, i) => phoneFrame(i % 25 === 0 ? 0 : 3000));
      const targets: number[] = [];
      playThrough(jb, clock, frames, (i) => 20 * i + (offsets[i] as number), 3000, (tick) => (targets[tick] = jb.stats.target));
      // RFC 3550's J of normal arrivals is about 1.13 sigma, a little less here as a frame never overtakes the one before.
      expect(jb.stats.jitterMs).toBeGreaterThan(7);
      expect(jb.stats.jitterMs).toBeLessThan(13);
      // The first underrun (at the start, no jitter measured yet) anchors playout a frame later; the second, with J
      // measured, raises the target, and it stays: in a minute, no third.
      expect(jb.stats.underruns).toBe(2);
      const risen = targets.indexOf(2);
      expect(risen).toBeGreaterThan(0);
      expect(targets.slice(risen).every((target) => target === 2)).toBe(true);
      expect(jb.stats).toMatchObject({ target: 2, dropped: 0 });
    });
  });
});
