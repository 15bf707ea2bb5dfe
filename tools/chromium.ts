import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { WaveFile } from 'wavefile';
import { tone } from './audio';

const chromiumPath = (): string => process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why no Chromium can be launched here, or '' when one can. */
export function chromiumMissing(): string {
  const path = chromiumPath();
  return existsSync(path) ? '' : `no Chromium at ${path}: install Debian's chromium, or set CHROMIUM_PATH to a Chromium binary`;
}

/**
 * Debian's headless Chromium (`CHROMIUM_PATH` for another) with no prompts, its fake microphone playing a tone of `hz`
 * (a 48 kHz WAV written into `dir`, looped by Chromium): the console's tests and screenshots.
 */
export async function launchChromium(dir: string, hz: number): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  const wav = new WaveFile();
  wav.fromScratch(1, 48000, '16', tone(hz, 4, 12000, 48000));
  const microphone = join(dir, 'microphone.wav');
  writeFileSync(microphone, wav.toBuffer());
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${microphone}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}
