import { Frame } from '../../ingest-container/src/audio/frame';
import { mulawDecode } from '../../core/mulaw';

test('decoded frames share blocks of samples, yet each keeps its own: none overlaps another, across many blocks', () => {
  // 200 frames of different codes (32,000 samples: several 4,096-sample blocks), all kept, then checked.
  const codes = Array.from({ length: 200 }, (_, n) => Uint8Array.from({ length: 160 }, (_, i) => (n * 7 + i) & 0xff));
  const frames = codes.map((c) => Frame.fromMulawBase64(Buffer.from(c).toString('base64')));
  const decoded = frames.map((f) => f.pcm);
  decoded.forEach((pcm, n) => expect(pcm).toEqual(mulawDecode(codes[n] as Uint8Array)));
  // Views into shared blocks, not an ArrayBuffer each; a frame decodes once.
  expect(decoded[0]?.buffer).toBe(decoded[1]?.buffer);
  expect(frames[5]?.pcm).toBe(decoded[5]);
});
