import { Frame } from '../../ingest-container/src/audio/frame';
import { mulawEncode } from '../../core/mulaw';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { Room, type Participant, type RoomEvent } from '../../ingest-container/src/room/room';
import { newStats } from '../../ingest-container/src/transport/endpoint';
import type { SampleRate } from '../../core/rooms';
import { newMediaCounters } from '../../ingest-container/src/metrics';

/**
 * A room member that records what it hears and the events it gets; its input is a real jitter buffer fed by the test,
 * and it counts what it is sent as its connection would.
 */
function member(id: string, rate: SampleRate = 8000, wantsLevels = false): Participant & { heard: Frame[]; events: RoomEvent[] } {
  const heard: Frame[] = [];
  const events: RoomEvent[] = [];
  const stats = newStats();
  return {
    id,
    kind: rate === 8000 ? 'phone' : 'web',
    rate,
    input: new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters: newMediaCounters() }),
    stats,
    wantsLevels,
    muted: false,
    heard,
    events,
    deliver: (frame) => {
      stats.framesOut++;
      heard.push(frame);
    },
    notify: (event) => events.push(event),
  };
}

const speech = (value: number) => Frame.fromMulawBase64(Buffer.from(mulawEncode(new Int16Array(160).fill(value))).toString('base64'));

describe('a room tick', () => {
  let clock: MediaClock;
  let room: Room;
  const failures: Record<string, string>[] = [];
  beforeEach(() => {
    clock = new MediaClock(() => undefined, newMediaCounters());
    failures.length = 0;
    room = new Room('acme', 'r1', clock, () => undefined, new AudioBudget(1024 * 1024), newMediaCounters(), (err, ids) => failures.push({ what: String(err), ...ids }));
  });
  afterEach(() => room.close());

  it('two callers talking at once each get the other’s frame itself: no decode, no mix, no re-encode', () => {
    const [a, b] = [member('a'), member('b')];
    room.join(a);
    room.join(b);
    const [fromA, fromB] = [speech(1000), speech(-2000)];
    a.input.push(fromA);
    b.input.push(fromB);
    room.tick();
    expect(a.heard).toEqual([fromB]);
    expect(b.heard).toEqual([fromA]);
    // Forwarded, not mixed: each hears the very frame the other sent.
    expect(a.heard[0]).toBe(fromB);
    expect(b.heard[0]).toBe(fromA);
  });

  it('a third member hears both voices summed, and each talker still hears only the other', () => {
    const [a, b, c] = [member('a'), member('b'), member('c')];
    [a, b, c].forEach((p) => room.join(p));
    a.input.push(speech(1000));
    b.input.push(speech(-2000));
    room.tick();
    // Mixed: each hears a frame of its own, none the frame a speaker sent.
    expect([a, b, c].map((p) => p.heard.length)).toEqual([1, 1, 1]);
    const sample = (p: { heard: Frame[] }) => p.heard[0]?.pcm[0];
    expect(sample(a)).toBe(speech(-2000).pcm[0]);
    expect(sample(b)).toBe(speech(1000).pcm[0]);
    // mu-law of the sum, within one quantisation step of it.
    expect(Math.abs((sample(c) as number) - ((speech(1000).pcm[0] as number) + (speech(-2000).pcm[0] as number)))).toBeLessThan(64);
  });

  it('a lone speaker is forwarded to everyone else; a muted one is not heard; silence costs a silent tick', () => {
    const [a, b, c] = [member('a'), member('b', 16000), member('c')];
    [a, b, c].forEach((p) => room.join(p));
    const frame = speech(3000);
    a.input.push(frame);
    room.tick();
    expect(c.heard).toEqual([frame]);
    // Forwarded: the listener at the speaker's rate gets the very frame it sent.
    expect(c.heard[0]).toBe(frame);
    expect(b.heard[0]?.rate).toBe(16000);
    expect(a.heard).toEqual([]);
    a.muted = true;
    a.input.push(speech(3000));
    room.tick();
    // The silent tick sends nobody anything.
    expect([a, b, c].map((p) => p.heard.length)).toEqual([0, 1, 1]);
  });

  it('a member whose deliver or notify throws is reported with its ids; the room and its other members go on', () => {
    const [a, b, c] = [member('a'), member('b'), member('c')];
    const broken: Participant = {
      ...b,
      deliver: () => {
        throw new Error('deliver broke');
      },
      notify: () => {
        throw new Error('notify broke');
      },
    };
    [a, broken, c].forEach((p) => room.join(p));
    const frame = speech(3000);
    a.input.push(frame);
    room.tick();
    expect(c.heard).toEqual([frame]);
    room.broadcast({ type: 'dtmf', participantId: 'a', digit: '5' }, 'a');
    expect(failures).toEqual([
      { what: 'Error: notify broke', tenant: 'acme', roomId: 'r1', participantId: 'b' },
      { what: 'Error: deliver broke', tenant: 'acme', roomId: 'r1', participantId: 'b' },
      { what: 'Error: notify broke', tenant: 'acme', roomId: 'r1', participantId: 'b' },
    ]);
  });

  it('sends `quality` every 100 ticks (2 s) only to members that want levels: each member’s counts since it joined', () => {
    const [watcher, caller, quiet] = [member('console', 48000, true), member('caller'), member('quiet')];
    [watcher, caller, quiet].forEach((p) => room.join(p));
    const qualityOf = (p: { events: RoomEvent[] }) => p.events.filter((event) => event.type === 'quality');
    const says = (from: Participant, frames: number) => {
      for (let i = 0; i < frames; i++) {
        from.input.push(speech(3000));
        from.stats.framesIn++;
      }
    };
    // The caller's frames come every other tick: each is heard, and each gap is an underrun (49 before tick 100's event).
    for (let tick = 1; tick <= 100; tick++) {
      if (tick % 2 === 1) says(caller, 1);
      room.tick();
    }
    const none = { framesIn: 0, framesOut: 0, droppedOut: 0, underruns: 0, droppedIn: 0 };
    expect(qualityOf(watcher)).toEqual([
      { type: 'quality', quality: { console: { ...none, framesOut: 50 }, caller: { ...none, framesIn: 50, underruns: 49 }, quiet: { ...none, framesOut: 50 } } },
    ]);
    // A burst over the jitter buffer's capacity (10): 5 frames dropped, the 10 kept are heard, then one underrun.
    says(caller, 15);
    for (let tick = 1; tick <= 100; tick++) room.tick();
    expect(qualityOf(watcher)[1]).toEqual({
      type: 'quality',
      quality: { console: { ...none, framesOut: 60 }, caller: { ...none, framesIn: 65, underruns: 51, droppedIn: 5 }, quiet: { ...none, framesOut: 60 } },
    });
    // Nobody watching: no member gets one (nor `levels`).
    room.leave('console', 'left');
    for (let tick = 1; tick <= 200; tick++) room.tick();
    expect(qualityOf(watcher)).toHaveLength(2);
    expect([caller, quiet].map((p) => p.events.filter((event) => event.type === 'quality' || event.type === 'levels'))).toEqual([[], []]);
  });
});
