import { Frame } from '../../ingest-container/src/audio/frame';
import { mulawEncode } from '../../ingest-container/src/audio/mulaw';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { newMediaCounters } from '../../ingest-container/src/metrics';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { Room, type Participant } from '../../ingest-container/src/room/room';
import { CallRecorder, RoomMixRecorder } from '../../ingest-container/src/recording/recorders';
import { MAX_WAITING_SEGMENTS, SegmentWriter } from '../../ingest-container/src/recording/segments';
import { newStats } from '../../ingest-container/src/transport/endpoint';
import type { RecordingFormat } from '../../core/recordings/model';
import type { SampleRate } from '../../core/rooms';
import { useRecordingBucket } from '../support/s3';

const BUCKET = 'recordings-test';
const s3 = useRecordingBucket(BUCKET);

function member(id: string, rate: SampleRate): Participant {
  return {
    id,
    kind: rate === 8000 ? 'phone' : 'web',
    rate,
    input: new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters: newMediaCounters() }),
    stats: newStats(),
    muted: false,
    deliver: () => undefined,
    notify: () => undefined,
  };
}

/** Frame `n` of a continuous sine of `hz` at `rate`, amplitude 8000. */
function tone(rate: SampleRate, hz: number, n: number): Int16Array {
  const size = rate / 50;
  return Int16Array.from({ length: size }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * (n * size + i)) / rate)));
}
const phoneTone = (n: number) => Frame.fromMulawBase64(Buffer.from(mulawEncode(tone(8000, 440, n))).toString('base64'));

async function download(key: string): Promise<Buffer> {
  const response = await fetch(await s3.objects.presign(key, 60));
  return Buffer.from(await response.arrayBuffer());
}

/** Channel `channel` of a PCM16 WAV's samples. */
function channelOf(wav: Buffer, channels: number, channel: number): Int16Array {
  const frames = (wav.length - 44) / 2 / channels;
  return Int16Array.from({ length: frames }, (_, i) => wav.readInt16LE(44 + (i * channels + channel) * 2));
}
const firstSound = (samples: Int16Array, from = 0) => samples.findIndex((v, i) => i >= from && Math.abs(v) > 200);
const silent = (samples: Int16Array, from: number, to: number) => samples.subarray(from, to).every((v) => v === 0);
const loud = (samples: Int16Array, from: number, to: number) => Math.max(...samples.subarray(from, to).map(Math.abs)) > 4000;

describe('recorders on a real room', () => {
  let room: Room;
  beforeEach(() => {
    room = new Room('acme', 'r1', new MediaClock(() => undefined, newMediaCounters()), () => undefined, new AudioBudget(1024 * 1024), newMediaCounters(), (err) => {
      throw err;
    });
  });
  afterEach(() => room.close());

  /**
   * 600 ticks (12 s: two segments): the caller (8 kHz) speaks for ticks 0..299, a web member (16 kHz) from tick 250 to
   * the end; nobody but them. Each recorder's WAV is assembled from the bucket.
   */
  async function run(): Promise<{ call: Buffer; mix: Buffer; callSeconds: number }> {
    const [phone, web] = [member('phone', 8000), member('web', 16000)];
    room.join(phone);
    room.join(web);
    const callFormat: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 8000 };
    const mixFormat: RecordingFormat = { format: 'wav', channels: 1, sampleRate: room.rate };
    const callWriter = new SegmentWriter(s3.objects, 't/r1/ss/call.wav', callFormat, (err) => {
      throw err;
    });
    const mixWriter = new SegmentWriter(s3.objects, 't/r1/ss/mix.wav', mixFormat, (err) => {
      throw err;
    });
    const detach = [room.record(new CallRecorder('phone', 8000, callWriter)), room.record(new RoomMixRecorder(room.rate, mixWriter))];
    for (let n = 0; n < 600; n++) {
      if (n < 300) phone.input.push(phoneTone(n));
      if (n >= 250) web.input.push(Frame.fromPcm(16000, tone(16000, 1000, n - 250)));
      room.tick();
    }
    detach.forEach((d) => d());
    room.tick();
    await Promise.all([callWriter.finish(), mixWriter.finish()]);
    const callSeconds = callWriter.seconds;
    expect(await s3.objects.assemble('t/r1/ss/call.wav', callFormat)).toEqual({ size: 44 + 12 * 8000 * 4, duration: 12 });
    expect(await s3.objects.assemble('t/r1/ss/mix.wav', mixFormat)).toEqual({ size: 44 + 12 * 16000 * 2, duration: 12 });
    return { call: await download('t/r1/ss/call.wav'), mix: await download('t/r1/ss/mix.wav'), callSeconds };
  }

  it('a call recording: left the caller, right what it heard, each from its own frame on; silent ticks are silence', async () => {
    const { call, callSeconds } = await run();
    expect(callSeconds).toBe(12);
    expect(call.readUInt16LE(22)).toBe(2);
    expect(call.readUInt32LE(24)).toBe(8000);
    const [left, right] = [channelOf(call, 2, 0), channelOf(call, 2, 1)];
    // Left: the caller's tone from its first frame, and exact silence after its last (tick 300 = sample 48000).
    expect(firstSound(left)).toBeLessThan(160);
    expect(loud(left, 0, 48000)).toBe(true);
    expect(silent(left, 48000, left.length)).toBe(true);
    // Right: silence until the web member's first frame (tick 250), then its tone, within that frame.
    expect(silent(right, 0, 250 * 160)).toBe(true);
    expect(firstSound(right)).toBeGreaterThanOrEqual(250 * 160);
    expect(firstSound(right)).toBeLessThan(251 * 160);
    expect(loud(right, 251 * 160, right.length)).toBe(true);
  });

  it('a room recording: mono at the mix rate as it started, everyone summed', async () => {
    const { mix } = await run();
    expect(mix.readUInt16LE(22)).toBe(1);
    expect(mix.readUInt32LE(24)).toBe(16000);
    const samples = channelOf(mix, 1, 0);
    expect(firstSound(samples)).toBeLessThan(320);
    // Both from tick 250 to 300; only the web member after; nothing is lost at the segment boundary (10 s).
    expect(loud(samples, 0, 250 * 320)).toBe(true);
    expect(loud(samples, 300 * 320, samples.length)).toBe(true);
  });
});

/** `seconds` of frames taken from `writer`, each written by `fill(buffer, offset, frame)`. */
function take(writer: SegmentWriter, seconds: number, fill: (buffer: Int16Array, at: number, frame: number) => void = () => undefined, from = 0): void {
  for (let f = from; f < from + seconds * 50; f++) {
    const at = writer.next();
    fill(writer.buffer, at, f);
  }
}

test('a writer whose uploads back up fails rather than hold more audio, and says why', () => {
  const stuck = { putSegment: () => new Promise<void>(() => undefined) };
  const failures: Error[] = [];
  const format: RecordingFormat = { format: 'wav', channels: 1, sampleRate: 8000 };
  const writer = new SegmentWriter(stuck, 'k', format, (err) => failures.push(err));
  take(writer, 10 * (MAX_WAITING_SEGMENTS + 1));
  expect(failures).toHaveLength(0);
  take(writer, 10.02);
  expect(failures.map((e) => e.message)).toEqual([expect.stringContaining('segments waiting to upload')]);
  // It holds nothing more than a frame's scratch, and takes no more audio.
  const seconds = writer.seconds;
  take(writer, 1);
  expect(writer.seconds).toBe(seconds);
  expect(writer.buffer.length).toBe(160);
});

test('a writer whose uploads keep up fills its two buffers in turn, and every segment goes up whole', async () => {
  const format: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 8000 };
  const writer = new SegmentWriter(s3.objects, 't/r1/ss/long.wav', format, (err) => {
    throw err;
  });
  // Every sample says where it is: frame, channel, index.
  const valueAt = (frame: number, i: number) => ((frame * 320 + i) % 65536) - 32768;
  const buffers = new Set<Int16Array>();
  for (let second = 0; second < 35; second++) {
    take(writer, 1, (buffer, at, frame) => {
      buffers.add(buffer);
      for (let i = 0; i < 320; i++) buffer[at + i] = valueAt(frame, i);
    }, second * 50);
    // A second of audio takes a second: the upload of a full segment is done long before the next one fills.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await writer.finish();
  expect(buffers.size).toBe(2);
  expect(await s3.objects.assemble('t/r1/ss/long.wav', format)).toEqual({ size: 44 + 35 * 8000 * 4, duration: 35 });
  const wav = await download('t/r1/ss/long.wav');
  const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
  const wrong = samples.findIndex((v, k) => v !== valueAt(Math.floor(k / 320), k % 320));
  expect(wrong).toBe(-1);
});
