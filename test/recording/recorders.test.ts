import { Frame } from '../../ingest-container/src/audio/frame';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { mulawDecode, mulawEncode } from '../../core/mulaw';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { newMediaCounters } from '../../ingest-container/src/metrics';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { Room, type Participant } from '../../ingest-container/src/room/room';
import { CallRecorder, RoomMixRecorder } from '../../ingest-container/src/recording/recorders';
import { MAX_WAITING_SEGMENTS, SegmentWriter, type SegmentSamples } from '../../ingest-container/src/recording/segments';
import { newStats } from '../../ingest-container/src/transport/endpoint';
import { segmentKey, type RecordingFormat } from '../../core/recordings/model';
import type { SampleRate } from '../../core/rooms';
import { useRecordingBucket } from '../support/s3';

const BUCKET = 'recordings-test';
const s3 = useRecordingBucket(BUCKET);
/** Segments of 10 s here: two in the 12 s runs below. */
const SEGMENT_SECONDS = 10;

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

/** A room of its own for each test of the block (closed after it); a listener's throw fails the test. */
function useRoom(id: string): { readonly room: Room } {
  const held = {} as { room: Room };
  beforeEach(() => {
    held.room = new Room('acme', id, new MediaClock(() => undefined, newMediaCounters()), () => undefined, new AudioBudget(1024 * 1024), newMediaCounters(), (err) => {
      throw err;
    });
  });
  afterEach(() => held.room.close());
  return held;
}

describe('recorders on a real room', () => {
  const rooms = useRoom('r1');

  /**
   * 600 ticks (12 s: two segments): the caller (8 kHz) speaks for ticks 0..299, a web member (16 kHz) from tick 250 to
   * the end; nobody but them. Each recorder's WAV is assembled from the bucket.
   */
  async function run(): Promise<{ call: Buffer; mix: Buffer; callSeconds: number }> {
    const { room } = rooms;
    const [phone, web] = [member('phone', 8000), member('web', 16000)];
    room.join(phone);
    room.join(web);
    const callFormat: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 8000 };
    const mixFormat: RecordingFormat = { format: 'wav', channels: 1, sampleRate: room.rate };
    const callWriter = new SegmentWriter(s3.objects, 't/r1/ss/call.wav', callFormat, SEGMENT_SECONDS, (err) => {
      throw err;
    });
    const mixWriter = new SegmentWriter(s3.objects, 't/r1/ss/mix.wav', mixFormat, SEGMENT_SECONDS, (err) => {
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

  it('a call recording (mu-law segments): left the caller, right what it heard (a 16 kHz member resampled), each from its own frame on; silent ticks are silence', async () => {
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
function take(writer: SegmentWriter, seconds: number, fill: (buffer: SegmentSamples, at: number, frame: number) => void = () => undefined, from = 0): void {
  for (let f = from; f < from + seconds * 50; f++) {
    const at = writer.next();
    fill(writer.buffer, at, f);
  }
}

test('a writer whose uploads back up fails rather than hold more audio, and says why', () => {
  const stuck = { putSegment: () => new Promise<void>(() => undefined) };
  const failures: Error[] = [];
  const format: RecordingFormat = { format: 'wav', channels: 1, sampleRate: 8000 };
  const writer = new SegmentWriter(stuck, 'k', format, SEGMENT_SECONDS, (err) => failures.push(err));
  take(writer, SEGMENT_SECONDS * (MAX_WAITING_SEGMENTS + 1));
  expect(failures).toHaveLength(0);
  take(writer, SEGMENT_SECONDS + 0.02);
  expect(failures.map((e) => e.message)).toEqual([expect.stringContaining('segments waiting to upload')]);
  // It holds nothing more than a frame's scratch, and takes no more audio.
  const seconds = writer.seconds;
  take(writer, 1);
  expect(writer.seconds).toBe(seconds);
  expect(writer.buffer.length).toBe(160);
});

// 8 kHz stereo: mu-law codes, a byte each; 16 kHz mono: PCM16. Both 320 samples a frame.
const PHONE_CALL: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 8000 };
const WIDE_ROOM: RecordingFormat = { format: 'wav', channels: 1, sampleRate: 16000 };
test.each([
  ['mu-law', PHONE_CALL, 1, (k: number) => k % 256, (v: number) => mulawDecode(Uint8Array.of(v))[0] as number],
  ['PCM16', WIDE_ROOM, 2, (k: number) => (k % 65536) - 32768, (v: number) => v],
])('a %s writer whose uploads keep up fills its two buffers in turn, and every segment goes up whole', async (_, format, bytesPerSample, valueAt, asPcm) => {
  const key = `t/r1/ss/long_${format.sampleRate}.wav`;
  const uploaded: number[] = [];
  const objects = { putSegment: (k: string, seq: number, bytes: Uint8Array) => (uploaded.push(bytes.length), s3.objects.putSegment(k, seq, bytes)) };
  const writer = new SegmentWriter(objects, key, format, 20, (err) => {
    throw err;
  });
  expect(writer.codec).toBe(bytesPerSample === 1 ? 'mulaw' : 'pcm16');
  // Every sample says where it is: frame, channel, index.
  const buffers = new Set<SegmentSamples>();
  for (let second = 0; second < 45; second++) {
    take(writer, 1, (buffer, at, frame) => {
      buffers.add(buffer);
      for (let i = 0; i < 320; i++) buffer[at + i] = valueAt(frame * 320 + i);
    }, second * 50);
    // A second of audio takes a second: the upload of a full segment is done long before the next one fills.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await writer.finish();
  expect(buffers.size).toBe(2);
  // 20 s segments after a first of 10-20 s: three in 45 s, in the codec's bytes.
  expect(uploaded).toHaveLength(3);
  expect(uploaded.slice(1, -1)).toEqual(uploaded.slice(1, -1).map(() => 20 * 16000 * bytesPerSample));
  expect(uploaded.reduce((a, b) => a + b, 0)).toBe(45 * 16000 * bytesPerSample);
  expect(await s3.objects.assemble(key, format)).toEqual({ size: 44 + 45 * 32000, duration: 45 });
  const wav = await download(key);
  const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
  const wrong = samples.findIndex((v, k) => v !== asPcm(valueAt(k)));
  expect(wrong).toBe(-1);
});

describe('recorders at 8 kHz write mu-law: the phones\' bytes as they came, a sum encoded', () => {
  const rooms = useRoom('r2');

  /** Frame `n` of phone `p`: 160 codes, none of them silence (0xff), different for every phone and frame. */
  const codesOf = (p: number, n: number) => Uint8Array.from({ length: 160 }, (_, i) => (p * 61 + n * 7 + i * 3) % 255);
  const saturate = (v: number) => Math.max(-32768, Math.min(32767, v));
  /** What several phones' frames sum to, in mu-law. */
  const sumOf = (...frames: Uint8Array[]) => mulawEncode(Int16Array.from({ length: 160 }, (_, i) => saturate(frames.reduce((sum, f) => sum + (mulawDecode(f)[i] as number), 0))));

  /** `phones` (8 kHz) speak for 5 ticks, recorded by `recorders`; the one segment each wrote, as uploaded. */
  async function record(phones: number, recorders: Record<string, (writer: SegmentWriter) => Parameters<Room['record']>[0]>, channels: Record<string, 1 | 2>): Promise<Record<string, Buffer>> {
    const { room } = rooms;
    for (let p = 0; p < phones; p++) room.join(member(`phone${p}`, 8000));
    const writers = Object.entries(recorders).map(([name, make]) => {
      const writer = new SegmentWriter(s3.objects, `t/r2/ss/${name}-${phones}.wav`, { format: 'wav', channels: channels[name] ?? 1, sampleRate: 8000 }, SEGMENT_SECONDS, (err) => {
        throw err;
      });
      return [name, writer, room.record(make(writer))] as const;
    });
    for (let n = 0; n < 5; n++) {
      for (let p = 0; p < phones; p++) room.get(`phone${p}`)?.input.push(Frame.fromMulawBase64(Buffer.from(codesOf(p, n)).toString('base64')));
      room.tick();
    }
    // Off before the first await: the room's clock would tick it meanwhile.
    for (const [, , detach] of writers) detach();
    const segments: Record<string, Buffer> = {};
    for (const [name, writer] of writers) {
      await writer.finish();
      const { Body } = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: segmentKey(`t/r2/ss/${name}-${phones}.wav`, 1) }));
      segments[name] = Buffer.from((await Body?.transformToByteArray()) ?? []);
    }
    return segments;
  }

  /** Stereo `segment`'s channel `c`, frame `n`. */
  const channel = (segment: Buffer, c: number, n: number) => Uint8Array.from({ length: 160 }, (_, i) => segment[(n * 160 + i) * 2 + c] as number);

  it('two parties: the call recording is the caller\'s codes left and the other\'s right, byte for byte; the room recording sums them', async () => {
    const { call, mix } = await record(2, { call: (w) => new CallRecorder('phone0', 8000, w), mix: (w) => new RoomMixRecorder(8000, w) }, { call: 2, mix: 1 });
    expect(call?.length).toBe(5 * 320);
    expect(mix?.length).toBe(5 * 160);
    for (let n = 0; n < 5; n++) {
      expect(channel(call as Buffer, 0, n)).toEqual(codesOf(0, n));
      expect(channel(call as Buffer, 1, n)).toEqual(codesOf(1, n));
      expect(Uint8Array.from((mix as Buffer).subarray(n * 160, (n + 1) * 160))).toEqual(sumOf(codesOf(0, n), codesOf(1, n)));
    }
  });

  it('a lone speaker\'s codes are the room recording as they came; a call with nobody else hears mu-law silence', async () => {
    const { call, mix } = await record(1, { call: (w) => new CallRecorder('phone0', 8000, w), mix: (w) => new RoomMixRecorder(8000, w) }, { call: 2, mix: 1 });
    for (let n = 0; n < 5; n++) {
      expect(Uint8Array.from((mix as Buffer).subarray(n * 160, (n + 1) * 160))).toEqual(codesOf(0, n));
      expect(channel(call as Buffer, 0, n)).toEqual(codesOf(0, n));
      expect(channel(call as Buffer, 1, n)).toEqual(new Uint8Array(160).fill(0xff));
    }
  });

  it('three parties: the right channel is the other two summed (the mix-minus), encoded', async () => {
    const { call } = await record(3, { call: (w) => new CallRecorder('phone1', 8000, w) }, { call: 2 });
    for (let n = 0; n < 5; n++) {
      expect(channel(call as Buffer, 0, n)).toEqual(codesOf(1, n));
      expect(channel(call as Buffer, 1, n)).toEqual(sumOf(codesOf(0, n), codesOf(2, n)));
    }
  });
});
