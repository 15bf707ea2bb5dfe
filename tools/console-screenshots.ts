import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { tone } from './audio';
import { ROOT, startStack } from './bench-support';
import { launchChromium } from './chromium';
import { SimulatedCall } from './plivo-simulator';

/**
 * `npm run console:screenshots`: starts `npm start`'s stack, makes data as users would (an inbound simulated call in
 * the demo room, an outbound call through the Plivo emulator, rooms, a webhook whose endpoint refuses), and writes PNGs
 * of the console's main views into docs/console/ (docs/console.md shows them). Run it again after changing the console.
 */
const OUT = join(ROOT, 'docs', 'console');
const VIEWPORT = { width: 1360, height: 860 };

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'console-screenshots-'));
  // An endpoint that refuses every delivery, so the webhooks view has failed deliveries to re-drive.
  const refusing = createServer((req, res) => req.resume().on('end', () => res.writeHead(500).end()));
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  const stack = await startStack(dataDir, { env: { WEBHOOK_RETRY_DELAYS: '0', SWEEP_INTERVAL_SECONDS: '1' } });
  const browser = await launchChromium(dataDir, 1000);
  const calls: SimulatedCall[] = [];
  try {
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(stack.info.apiUrl + path, {
        method,
        headers: { authorization: `Bearer ${stack.info.token}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    await api('POST', '/v2/sip/webhooks', { url: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/hooks` });
    const { data: sales } = await api<{ data: { id: string } }>('POST', '/v2/connectors', {
      provider: 'plivo',
      name: 'Sales line',
      defaultRoomId: 'sales',
      plivoAuthId: `MA${randomBytes(9).toString('hex').toUpperCase()}`,
      plivoAuthToken: randomBytes(20).toString('hex'),
    });
    await api('POST', '/v2/agents', { name: 'Support bot', url: 'wss://agents.example.com/support' });
    for (const customRoomId of ['support-queue', 'sales', 'escalations']) await api('POST', '/v2/rooms', { customRoomId });
    await api('POST', '/v2/rooms/deactivate', { roomId: 'escalations' });

    // Two earlier callers, ended; one caller live in the demo room, speaking; an outbound call live in `sales`, to the
    // emulator's callee whose stream Plivo reports degraded (…0006).
    for (const from of ['14155550120', '14155550121']) {
      const call = new SimulatedCall({ answerUrl: stack.info.connector.webhookUrl, from });
      await call.start();
      await call.play(tone(600, 0.5, 8000));
      await call.hangup();
    }
    const caller = new SimulatedCall({ answerUrl: stack.info.connector.webhookUrl, from: '14155550177' });
    calls.push(caller);
    await caller.start();
    void caller.play(tone(600, 60, 8000));
    const { data: outbound } = await api<{ data: { id: string } }>('POST', '/v2/sip/call', {
      sipCallTo: '+14155550006',
      sipCallFrom: '+14155550199',
      destinationRoomId: 'sales',
      connectorId: sales.id,
      waitUntilAnswered: true,
    });

    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(stack.info.consoleUrl);
    await page.getByRole('button', { name: 'Join with microphone' }).click();
    await page.getByRole('listitem').filter({ hasText: 'Caller 14155550177' }).locator('.speaking.on').waitFor({ timeout: 10_000 });
    mkdirSync(OUT, { recursive: true });
    await shot(page, 'live.png');

    await open(page, 'Calls');
    await page.getByRole('button', { name: `Open call ${outbound.id}` }).click();
    await page.getByRole('region', { name: `Call ${outbound.id}` }).getByText('3 degraded report(s)', { exact: false }).waitFor({ timeout: 10_000 });
    await shot(page, 'calls.png');

    await open(page, 'Rooms');
    await page.getByRole('cell', { name: 'escalations' }).waitFor();
    await shot(page, 'rooms.png');

    await open(page, 'Connectors');
    await page.getByText('Sales line').waitFor();
    await shot(page, 'connectors.png');

    await open(page, 'Webhooks');
    await page.getByLabel('Delivery status').selectOption('failed');
    await page.getByRole('button', { name: /^Re-drive / }).first().waitFor({ timeout: 15_000 });
    await shot(page, 'webhooks.png');
    process.stdout.write(`wrote live, calls, rooms, connectors and webhooks PNGs into ${OUT}\n`);
  } finally {
    for (const call of calls) await call.hangup().catch(() => undefined);
    await browser.close();
    await stack.stop();
    refusing.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const open = (page: Page, view: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: view, exact: true }).click();

async function shot(page: Page, name: string): Promise<void> {
  // Past the next refresh, so what shows is settled.
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(OUT, name), fullPage: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`console screenshots failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
