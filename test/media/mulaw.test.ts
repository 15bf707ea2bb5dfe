import { mulaw } from 'alawmulaw';
import { MULAW_SILENCE, mulawDecode, mulawEncode } from '../../core/mulaw';

describe('G.711 mu-law', () => {
  it('decodes all 256 codes bit-exactly as the alawmulaw package does', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    // The package returns -0 for code 0x7f; G.711 has two zeros, both 0 here.
    const expected = Int16Array.from(codes, (code) => mulaw.decodeSample(code));
    expect(Buffer.from(mulawDecode(codes).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it('encodes every 16-bit sample bit-exactly as the alawmulaw package does', () => {
    const pcm = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
    // The package returns the code unmasked (a negative int); the code is its low 8 bits.
    const expected = Uint8Array.from(pcm, (sample) => mulaw.encodeSample(sample) & 0xff);
    const actual = mulawEncode(pcm);
    const mismatches = pcm.filter((_, i) => actual[i] !== expected[i]);
    expect(Array.from(mismatches.slice(0, 10))).toEqual([]);
  });

  it('round-trips every code through decode and encode', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const again = mulawEncode(mulawDecode(codes));
    // 0x7f and 0xff both decode to 0 (G.711's two zeros); everything else is exact.
    for (let code = 0; code < 256; code++) if (code !== 0x7f) expect(again[code]).toBe(code);
    expect(MULAW_SILENCE).toBe(0xff);
  });
});
