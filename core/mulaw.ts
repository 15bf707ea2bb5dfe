/**
 * G.711 mu-law, by table: decoding is one lookup per sample, and encoding one lookup in a 64 KB table
 * indexed by the 16-bit sample. The tables are built once from the G.711 algorithm (bias 0x84, clip 32635).
 */
const BIAS = 0x84;
const CLIP = 32635;

function encodeSample(pcm: number): number {
  let sample = pcm;
  const sign = sample < 0 ? 0x80 : 0;
  if (sign) sample = -sample;
  if (sample > CLIP) sample = CLIP;
  sample += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function decodeSample(code: number): number {
  const byte = ~code & 0xff;
  const exponent = (byte >> 4) & 0x07;
  const magnitude = ((((byte & 0x0f) << 3) + BIAS) << exponent) - BIAS;
  return byte & 0x80 ? -magnitude : magnitude;
}

const DECODE = new Int16Array(256);
for (let code = 0; code < 256; code++) DECODE[code] = decodeSample(code);

/** Indexed by the sample's 16 bits as unsigned (`sample & 0xffff`). */
const ENCODE = new Uint8Array(65536);
for (let bits = 0; bits < 65536; bits++) ENCODE[bits] = encodeSample((bits << 16) >> 16);

/** The mu-law code of silence (linear 0). */
export const MULAW_SILENCE = ENCODE[0] as number;

export function mulawDecode(codes: Uint8Array, out: Int16Array = new Int16Array(codes.length)): Int16Array {
  for (let i = 0; i < codes.length; i++) out[i] = DECODE[codes[i] as number] as number;
  return out;
}

export function mulawEncode(pcm: Int16Array, out: Uint8Array = new Uint8Array(pcm.length)): Uint8Array {
  for (let i = 0; i < pcm.length; i++) out[i] = ENCODE[(pcm[i] as number) & 0xffff] as number;
  return out;
}
