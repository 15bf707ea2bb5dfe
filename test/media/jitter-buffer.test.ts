import { Frame } from '../../ingest-container/src/audio/frame';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { newMediaCounters } from '../../ingest-container/src/metrics';

const frame = (n: number) => Frame.fromPcm(8000, new Int16Array(160).fill(n));
const valueOf = (f: Frame | null) => (f ? f.pcm[0] : null);

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
    expect(jb.stats).toMatchObject({ underruns: 1, target: 2 });
    expect(counters).toMatchObject({ underruns: 1, trimmedFrames: 0, droppedFramesIn: 0 });
    // After the underrun it waits for two frames before playing again.
    jb.push(frame(3));
    expect(jb.pull(none)).toBeNull();
    jb.push(frame(4));
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

  it("trims a steady source that runs fuller than it needs (one frame a second), so latency comes back down", () => {
    const jb = new JitterBuffer({ startFrames: 1, maxTarget: 4, capacity: 50, adaptive: true, counters });
    for (let i = 0; i < 10; i++) jb.push(frame(i)); // a burst: 200 ms queued
    for (let tick = 0; tick < 600; tick++) {
      jb.push(frame(tick));
      jb.pull(() => undefined);
    }
    expect(jb.stats.depth).toBeLessThanOrEqual(3);
    expect(jb.stats.dropped).toBeGreaterThan(0);
    // For the server these are trimmed frames, not frames with no room.
    expect(counters).toMatchObject({ trimmedFrames: jb.stats.dropped, droppedFramesIn: 0 });
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
});
