import { Frame } from '../../ingest-container/src/audio/frame';
import { mulawEncode } from '../../ingest-container/src/audio/mulaw';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { Room, type Participant } from '../../ingest-container/src/room/room';
import type { SampleRate } from '../../core/rooms';

/** A room member that records what it hears; its input is a real jitter buffer fed by the test. */
function member(id: string, rate: SampleRate = 8000): Participant & { heard: Frame[] } {
  const heard: Frame[] = [];
  return {
    id,
    kind: rate === 8000 ? 'phone' : 'web',
    rate,
    input: new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false }),
    muted: false,
    heard,
    deliver: (frame) => heard.push(frame),
    notify: () => undefined,
  };
}

const speech = (value: number) => Frame.fromMulawBase64(Buffer.from(mulawEncode(new Int16Array(160).fill(value))).toString('base64'));

describe('a room tick', () => {
  let clock: MediaClock;
  let room: Room;
  const failures: Record<string, string>[] = [];
  beforeEach(() => {
    clock = new MediaClock(() => undefined);
    failures.length = 0;
    room = new Room('acme', 'r1', clock, () => undefined, new AudioBudget(1024 * 1024), (err, ids) => failures.push({ what: String(err), ...ids }));
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
});
