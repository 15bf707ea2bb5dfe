import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WaveFile } from 'wavefile';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';

/**
 * The web console in real headless Chromium (Debian's), its microphone a WAV file of a 1 kHz tone,
 * against `npm start`'s real process and a simulated Plivo caller in the demo room.
 */
const PAGE_TONE = 1000;
const CALLER_TONE = 600;
let dataDir: string;
let stack: LocalProcess;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'e2e-console-'));
  const wav = new WaveFile();
  wav.fromScratch(1, 48000, '16', tone(PAGE_TONE, 4, 12000, 48000));
  const microphone = join(dataDir, 'microphone.wav');
  writeFileSync(microphone, wav.toBuffer());
  // Both are started at once, and each kept as soon as it is up: afterAll stops whichever started if the other failed.
  await Promise.all([
    startLocalProcess(dataDir).then((started) => (stack = started)),
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
    }).then((launched) => (browser = launched)),
  ]);
  page = await browser.newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The loudest frequency the page's analyser hears, and its level in dBFS (evaluated in the page). */
const pageHears = () =>
  page.evaluate<{ hz: number; db: number }>(`(() => {
    const { analyser, context } = window.roomConsole;
    if (!analyser || !context) return { hz: 0, db: -Infinity };
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 1;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return { hz: (best * context.sampleRate) / analyser.fftSize, db: bins[best] };
  })()`);

/** A participant's level meter (`<meter value>` reflects the property the page sets). */
const meterOf = async (who: string) => Number(await page.getByRole('listitem').filter({ hasText: who }).locator('meter').getAttribute('value'));

it('serves the console with a strict content security policy', async () => {
  const res = await fetch(stack.info.consoleUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
  expect(await res.text()).toContain('<title>Room console</title>');
  expect((await fetch(`${stack.info.apiUrl}/console`, { method: 'POST' })).status).toBe(405);
});

it('joins the demo room from the printed link; the caller and the page hear each other; meters, DTMF and hang up work', async () => {
  expect(stack.info.consoleUrl).toMatch(/\/console\?room=demo-room#token=/);
  await page.goto(stack.info.consoleUrl);
  await page.getByRole('button', { name: 'Join with microphone' }).click();
  await page.getByRole('heading', { name: 'In room demo-room' }).waitFor();

  const call = new SimulatedCall({ answerUrl: stack.info.connector.webhookUrl, from: '14155550177' });
  await call.start();
  await page.getByRole('listitem').filter({ hasText: 'Caller 14155550177' }).waitFor();
  const playing = call.play(tone(CALLER_TONE, 3, 8000));

  // The caller's tone reaches the page's speakers.
  const heard = await waitFor(async () => {
    const now = await pageHears();
    return Math.abs(now.hz - CALLER_TONE) < 20 && now.db > -50 ? now : undefined;
  });
  expect(heard.db).toBeGreaterThan(-50);
  // The caller's meter moves.
  await waitFor(async () => ((await meterOf('Caller 14155550177')) > 0.1 ? true : undefined));
  await playing;

  // The page's microphone reaches the caller.
  const pcm = call.receivedPcm();
  expect(toneLevel(pcm.subarray(pcm.length - 8000), PAGE_TONE)).toBeGreaterThan(500);

  await page.getByRole('button', { name: 'DTMF 5' }).click();
  expect(await waitFor(() => call.controls.find((c) => c.event === 'sendDTMF'))).toEqual({ event: 'sendDTMF', dtmf: '5' });

  // Muted, the caller stops hearing the page.
  await page.getByRole('button', { name: 'Mute' }).click();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const mutedFrom = call.received.length;
  await new Promise((resolve) => setTimeout(resolve, 600));
  expect(toneLevel(call.receivedPcm().subarray(mutedFrom * 160), PAGE_TONE)).toBeLessThan(50);

  await page.getByRole('button', { name: 'Hang up Caller 14155550177 → 14155550199' }).click();
  await call.closed();
  expect(call.closeCode).toBe(4000);
  await page.getByText(/Caller 14155550177 → 14155550199 left \(kicked\)/).waitFor();
}, 60_000);
