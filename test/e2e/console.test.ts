import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { CallView } from '../../core/calls/model';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { chromiumMissing, launchChromium } from '../../tools/chromium';
import { agentServerPerFile } from '../support/agents';
import { apiRequest, startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { startReceiver } from '../support/webhook-receiver';

/**
 * The operator console in real headless Chromium (Debian's), its microphone a WAV file of a 1 kHz tone, against
 * `npm start`'s real process: each view shows what a simulated Plivo call made, each action changes the stack as the
 * API says (checked through the API). One stack and one browser for the file; the tests run in order and build on
 * each other's calls.
 */
const noChromium = chromiumMissing();
if (noChromium && process.env.CI) throw new Error(`CI runs the console's tests in Chromium: ${noChromium}`);
if (noChromium) process.stderr.write(`test/e2e/console.test.ts: the console's tests are skipped: ${noChromium}\n`);
/** Each test of this file; skipped, the reason in its name, on a machine without Chromium (outside CI). */
const it = (name: string, fn: () => Promise<void>, timeout?: number) => (noChromium ? global.it.skip(`${name} (skipped: ${noChromium})`, fn) : global.it(name, fn, timeout));

const PAGE_TONE = 1000;
const CALLER_TONE = 600;
const CALLER = '14155550177';
let dataDir: string;
let stack: LocalProcess;
let browser: Browser;
let page: Page;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let kickedCallId: string;
const agents = agentServerPerFile();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'e2e-console-'));
  // Both are started at once, and each kept as soon as it is up: afterAll stops whichever started if the other failed.
  // One retry at once, so a delivery the receiver refuses is `failed` (re-drivable) within seconds.
  await Promise.all([
    startLocalProcess(dataDir, { WEBHOOK_RETRY_DELAYS: '0', SWEEP_INTERVAL_SECONDS: '1' }).then((started) => (stack = started)),
    launchChromium(dataDir, PAGE_TONE).then((launched) => (browser = launched)),
    // A receiver that refuses every delivery: the webhooks view then has failed deliveries to re-drive.
    startReceiver(() => 500).then((started) => (receiver = started)),
  ]);
  expect((await api('POST', '/v2/sip/webhooks', { url: receiver.url })).status).toBe(201);
  page = await browser.newPage();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: unknown) => apiRequest(stack, method, path, body);
const callOf = async (id: string) => (await api('GET', `/v2/sip/call/${id}`)).data as unknown as CallView;

/** The loudest frequency `on`'s analyser hears, and its level in dBFS (evaluated in the page). */
const hears = (on: Page) =>
  on.evaluate<{ hz: number; db: number }>(`(() => {
    const connection = window.roomConsole;
    const analyser = connection && connection.analyser;
    if (!analyser) return { hz: 0, db: -Infinity };
    const bins = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(bins);
    let best = 1;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return { hz: (best * analyser.context.sampleRate) / analyser.fftSize, db: bins[best] };
  })()`);

/** Waits until `on` hears the caller's tone (10 s: two Chromium pages' audio on a loaded machine). */
const hearsCaller = (on: Page) =>
  waitFor(async () => {
    const now = await hears(on);
    return Math.abs(now.hz - CALLER_TONE) < 20 && now.db > -50 ? now : undefined;
  }, 10_000);

/** A participant's level meter (`<meter value>` reflects the property the page sets). */
const meterOf = async (who: string) => Number(await page.getByRole('listitem').filter({ hasText: who }).locator('meter').getAttribute('value'));

/** Opens a view of the console from its tab. */
const open = (view: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: view, exact: true }).click();

it('serves the console with a strict content security policy: scripts and styles from itself only, no eval', async () => {
  const res = await fetch(`${stack.info.apiUrl}/console`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self';");
  expect(csp).not.toMatch(/unsafe-(eval|inline)/);
  expect(await res.text()).toContain('<title>Plivo connector console</title>');
  // The bundle `npm start` built, and where to find the API (this origin, locally).
  const bundle = await fetch(`${stack.info.apiUrl}/console/console.js`);
  expect(bundle.status).toBe(200);
  expect((await bundle.text()).length).toBeGreaterThan(10_000);
  expect(await (await fetch(`${stack.info.apiUrl}/console/config.json`)).json()).toEqual({ apiUrl: null });
  expect((await fetch(`${stack.info.apiUrl}/console`, { method: 'POST' })).status).toBe(405);
  // The printed link carries the management token in its fragment, which a browser never sends.
  expect(stack.info.consoleUrl).toBe(`${stack.info.apiUrl}/console?room=demo-room#token=${stack.info.token}`);
  expect(stack.output()).toContain(stack.info.consoleUrl);
});

it('joins the demo room from the printed link; the caller and the page hear each other; speaking, DTMF, listen-only and hang up work', async () => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(stack.info.consoleUrl);
  // The token leaves the address bar once read.
  await waitFor(() => (page.url().includes('#token=') ? undefined : true));
  await page.getByRole('button', { name: 'Join with microphone' }).click();
  await page.getByRole('heading', { name: 'In room demo-room' }).waitFor();

  // A second tab listens only: no microphone asked for.
  const listener = await browser.newPage();
  await listener.goto(stack.info.consoleUrl);
  await listener.getByLabel('listen only (no microphone)').check();
  await listener.getByRole('button', { name: 'Listen only' }).click();
  await listener.getByRole('heading', { name: 'In room demo-room' }).waitFor();
  expect(await listener.getByRole('button', { name: 'Mute' }).count()).toBe(0);
  expect(await listener.evaluate('window.roomConsole.stream')).toBeNull();

  const call = new SimulatedCall({ answerUrl: stack.info.connector.webhookUrl, from: CALLER });
  await call.start();
  await page.getByRole('listitem').filter({ hasText: `Caller ${CALLER}` }).waitFor();
  const playing = call.play(tone(CALLER_TONE, 4, 8000));

  // The caller's tone reaches both pages' speakers; its meter moves and it shows as speaking.
  for (const heard of await Promise.all([hearsCaller(page), hearsCaller(listener)])) expect(heard.db).toBeGreaterThan(-50);
  await waitFor(async () => ((await meterOf(`Caller ${CALLER}`)) > 0.1 ? true : undefined), 10_000);
  await page.getByRole('listitem').filter({ hasText: `Caller ${CALLER}` }).locator('.speaking.on').waitFor();
  // Beside its meter, its frame counts (the room's `quality`, every 2 s): the caller's frames in, the page's out to it.
  const quality = page.getByRole('listitem').filter({ hasText: `Caller ${CALLER}` }).locator('.quality');
  await quality.filter({ hasText: /^in [1-9]\d* · out [1-9]\d* · dropped \d+ out, \d+ in · late \d+$/ }).waitFor({ timeout: 5000 });
  await playing;
  await listener.close();

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

  await page.getByRole('button', { name: `Hang up Caller ${CALLER} → 14155550199` }).click();
  await call.closed();
  expect(call.closeCode).toBe(4000);
  await page.getByText(`Caller ${CALLER} → 14155550199 left (kicked)`).waitFor();
  const { data } = await api('GET', `/v2/sip/call?search=${CALLER}`);
  kickedCallId = (data as unknown as CallView[])[0]!.id;
  await page.getByRole('button', { name: 'Leave' }).click();
  expect(errors).toEqual([]);
}, 60_000);

it("lists live rooms with their participants from the sessions API; removing a caller ends its call as the API does", async () => {
  const caller = new SimulatedCall({ answerUrl: `${stack.info.connector.webhookUrl}?roomId=console-live`, from: '14155550178' });
  await caller.start();
  const room = page.getByRole('region', { name: 'Live room console-live' });
  const participant = room.getByRole('listitem').filter({ hasText: '14155550178' });
  await participant.waitFor({ timeout: 10_000 });
  expect(await participant.textContent()).toMatch(/\(phone, call_[0-9a-z]+\)/);
  await participant.getByRole('button', { name: 'Remove 14155550178' }).click();
  await room.getByRole('status').waitFor();
  await caller.closed();
  const { data } = await api('GET', '/v2/sip/call?search=14155550178');
  const ended = await waitFor(async () => {
    const call = await callOf((data as unknown as CallView[])[0]!.id);
    return call.status === 'ended' ? call : undefined;
  }, 10_000);
  expect(ended.additionalDetails.hangupReason).toBe('removed');
  // The room empties: its session ends and leaves the list.
  await room.waitFor({ state: 'detached', timeout: 10_000 });
}, 30_000);

it('shows a refused join and an API error as what they are, not "1006"', async () => {
  await page.getByLabel('Room id').fill('bad room!');
  await page.getByRole('button', { name: 'Join with microphone' }).click();
  const refused = page.getByRole('alert').filter({ hasText: /^Invalid room id.*\(bad_request, HTTP 400\)$/ });
  await refused.waitFor();
  expect(await refused.textContent()).not.toContain('1006');
});

it('lists calls with filters and pages; a call shows its status, hang-up reason and stream quality', async () => {
  await open('Calls');
  const log = page.getByRole('table', { name: 'Call log' });
  await log.getByRole('row').filter({ hasText: kickedCallId }).waitFor();
  const filter = page.getByRole('form', { name: 'Filter calls' });
  await filter.getByLabel('Direction').selectOption('outbound');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await page.getByText('No calls match.').waitFor();
  await filter.getByLabel('Direction').selectOption('inbound');
  await filter.getByLabel('Number or room contains').fill(CALLER);
  await filter.getByRole('button', { name: 'Filter' }).click();
  await log.getByRole('row').filter({ hasText: kickedCallId }).waitFor();
  await page.getByText('Page 1 of 1 (1 in all)').waitFor();

  await page.getByRole('button', { name: `Open call ${kickedCallId}` }).click();
  const detail = page.getByRole('region', { name: `Call ${kickedCallId}` });
  await detail.getByText('kicked').waitFor();
  expect(await detail.getByLabel('Stream quality').textContent()).toBe('no trouble reported by Plivo');
  expect(await detail.getByRole('button', { name: 'End call' }).count()).toBe(0);
});

it('places an outbound call, switches its room, transfers it and ends it, each as the API does', async () => {
  const authId = `MA${randomBytes(9).toString('hex').toUpperCase()}`;
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', name: 'Console outbound', plivoAuthId: authId, plivoAuthToken: randomBytes(20).toString('hex') });
  expect(connector.status).toBe(201);
  await open('Calls');
  const place = page.getByRole('form', { name: 'Place call' });
  await place.getByLabel('To', { exact: true }).fill('+14155557000');
  await place.getByLabel('From').fill('+14155550199');
  await place.getByLabel('Into room').fill('console-sales');
  await place.getByLabel('Connector (if several)').fill(connector.data.id as string);
  await place.getByRole('button', { name: 'Place call' }).click();
  const placed = await page.getByRole('status').filter({ hasText: /^Placed call_/ }).textContent();
  const callId = /call_[0-9a-z]+/.exec(placed ?? '')![0];
  expect(await callOf(callId)).toMatchObject({ type: 'outbound', to: '+14155557000', roomId: 'console-sales', connectorId: connector.data.id });
  await waitFor(async () => ((await callOf(callId)).status === 'answered' ? true : undefined), 10_000);

  const detail = page.getByRole('region', { name: `Call ${callId}` });
  await detail.locator('.status.answered').waitFor();
  // A bad room id: the API's message and code.
  const switchForm = detail.getByRole('form', { name: 'Switch room' });
  await switchForm.getByLabel('To room').fill('no spaces');
  await switchForm.getByRole('button', { name: 'Switch room' }).click();
  await detail.getByRole('alert').filter({ hasText: /roomId.*\(bad_request, HTTP 400\)/ }).waitFor();
  await switchForm.getByLabel('To room').fill('console-support');
  await switchForm.getByRole('button', { name: 'Switch room' }).click();
  await detail.getByRole('status').filter({ hasText: 'Switched to console-support' }).waitFor();
  await waitFor(async () => ((await callOf(callId)).roomId === 'console-support' ? true : undefined));

  const transfer = detail.getByRole('form', { name: 'Transfer' });
  await transfer.getByLabel('To (E.164 or SIP URI)').fill('+14155557001');
  await transfer.getByRole('button', { name: 'Transfer' }).click();
  await detail.getByRole('status').filter({ hasText: 'Transfer to +14155557001 asked' }).waitFor();
  const transferred = await callOf(callId);
  expect(transferred.status).toMatch(/^transfer/);
  expect(transferred.additionalDetails.transfer).toMatchObject({ to: '+14155557001', dialtone: false });

  await detail.getByRole('button', { name: 'End call' }).click();
  await detail.getByRole('status').filter({ hasText: /^Ended/ }).waitFor();
  await waitFor(async () => ((await callOf(callId)).status === 'ended' ? true : undefined), 10_000);
  expect((await callOf(callId)).additionalDetails.hangupReason).toBe('api');
}, 60_000);

it("shows a call's stream quality as Plivo reports it: degraded, with the count of reports", async () => {
  // The emulator's callee …0006 has its stream reported degraded 1, 2 and 3 s after it starts.
  const placed = await api('POST', '/v2/sip/call', { sipCallTo: '+14155550006', sipCallFrom: '+14155550199', destinationRoomId: 'console-sales', waitUntilAnswered: true });
  expect(placed.status).toBe(201);
  const callId = placed.data.id as string;
  await open('Calls');
  // The filters of the test before, cleared.
  const filter = page.getByRole('form', { name: 'Filter calls' });
  await filter.getByLabel('Direction').selectOption('');
  await filter.getByLabel('Number or room contains').fill('');
  await filter.getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('button', { name: `Open call ${callId}` }).click();
  const detail = page.getByRole('region', { name: `Call ${callId}` });
  await detail.getByLabel('Stream quality').filter({ hasText: /^degraded at .*, 3 degraded report\(s\)$/ }).waitFor({ timeout: 10_000 });
  expect((await callOf(callId)).additionalDetails.stream).toMatchObject({ status: 'degraded', degradedCount: 3 });
  await page.getByRole('table', { name: 'Call log' }).getByRole('row').filter({ hasText: callId }).locator('.status.degraded').waitFor();
  expect((await api('POST', '/v2/sip/call/end', { callId })).status).toBe(200);
}, 20_000);

it('creates a room and deactivates it; the API shows both', async () => {
  await open('Rooms');
  const create = page.getByRole('form', { name: 'Create room' });
  await create.getByLabel('Custom room id (optional)').fill('console-made');
  await create.getByRole('button', { name: 'Create room' }).click();
  await page.getByRole('status').filter({ hasText: 'Room console-made is ready' }).waitFor();
  const made = await api('GET', '/v2/rooms/validate/console-made');
  expect(made.status).toBe(200);
  expect(made.body).toMatchObject({ customRoomId: 'console-made', disabled: false });

  // Joined from the live view, the room stays joined while the operator works in another view.
  await open('Live rooms');
  await page.getByLabel('Room id').fill('console-made');
  await page.getByRole('button', { name: 'Join with microphone' }).click();
  await page.getByRole('heading', { name: 'In room console-made' }).waitFor();
  await open('Rooms');
  await page.getByRole('button', { name: 'Deactivate console-made' }).click();
  await page.getByRole('status').filter({ hasText: 'Room console-made deactivated' }).waitFor();
  expect((await api('GET', '/v2/rooms/validate/console-made')).body).toMatchObject({ customRoomId: 'console-made', disabled: true });
  await page.getByRole('row').filter({ hasText: 'console-made' }).getByText('deactivated').waitFor();

  // Its participants are closed (4410), which the live view says; joining it again is refused, and it says why.
  await open('Live rooms');
  await page.getByRole('alert').filter({ hasText: /^Disconnected: close 4410/ }).waitFor();
  await page.getByLabel('Room id').fill('console-made');
  await page.getByRole('button', { name: 'Join with microphone' }).click();
  await page.getByRole('alert').filter({ hasText: 'Room console-made was deactivated: it cannot be joined again (room_deactivated, HTTP 403)' }).waitFor();
});

it("lists connectors with their Answer URLs", async () => {
  await open('Connectors');
  await page.getByRole('cell').filter({ hasText: stack.info.connector.webhookUrl }).waitFor();
  await page.getByRole('row').filter({ hasText: 'Console outbound' }).getByText('set (outbound calls, signatures)').waitFor();
});

it("lists a webhook's deliveries by status and re-drives a failed one", async () => {
  // The receiver refused every attempt and the one retry: the calls' deliveries failed. The newest failed one is on
  // the view's first page (newest first, as the API lists them).
  const webhookId = ((await api('GET', '/v2/sip/webhooks')).data as unknown as { id: string }[])[0]!.id;
  const failed = await waitFor(async () => {
    const { data } = await api('GET', `/v2/sip/webhooks/${webhookId}/deliveries?status=failed&perPage=20`);
    return (data as unknown as { id: string; attempts: unknown[] }[])[0];
  }, 15_000);
  await open('Webhooks');
  await page.getByLabel('Delivery status').selectOption('failed');
  await page.getByRole('button', { name: `Re-drive ${failed.id}` }).click();
  await page.getByRole('status').filter({ hasText: `Delivery ${failed.id} queued again` }).waitFor();
  // Sent again: the delivery has more attempts than it failed with (the receiver refuses these too).
  await waitFor(async () => {
    const { body } = await api('GET', `/v2/sip/webhooks/${webhookId}/deliveries/${failed.id}`);
    return (body as { attempts: unknown[] }).attempts.length > failed.attempts.length ? true : undefined;
  }, 15_000);
}, 45_000);

it('dispatches a registered agent into a room as the API does: the agent server is dialled, the job dispatched', async () => {
  const agent = await api('POST', '/v2/agents', { name: 'Console bot', url: `ws://127.0.0.1:${agents.port()}/console` });
  expect(agent.status).toBe(201);
  await open('Connectors');
  await open('Live rooms');
  const dispatch = page.getByRole('form', { name: 'Dispatch' });
  await dispatch.getByRole('option', { name: 'Console bot' }).waitFor({ state: 'attached' });
  expect(await dispatch.getByLabel('Agent').inputValue()).toBe(agent.body.id);
  await dispatch.getByLabel('Into room').fill('console-dispatch');
  await dispatch.getByRole('button', { name: 'Dispatch' }).click();
  const outcome = await page.getByRole('status').filter({ hasText: 'Agent dispatched: job ' }).textContent();
  const jobId = /job (\S+),/.exec(outcome ?? '')?.[1];
  const joined = await waitFor(() => agents.dialled[0]?.messages.find((m) => m.type === 'joined'), 10_000);
  expect(joined).toMatchObject({ roomId: 'console-dispatch', dispatch: { jobId } });
  expect(await waitFor(async () => ((await api('GET', `/v2/agent/dispatch/${jobId}`)).body as { data?: { status: string } }).data?.status === 'dispatched' || undefined, 10_000)).toBe(true);
  await Promise.all(agents.dialled.map((peer) => peer.close()));
}, 30_000);

it('asks for a token when it has none, and says why a bad one is refused', async () => {
  const fresh = await browser.newPage();
  await fresh.goto(`${stack.info.apiUrl}/console`);
  const signIn = fresh.getByRole('form', { name: 'Sign in' });
  expect(await signIn.getByLabel('API URL').inputValue()).toBe(stack.info.apiUrl);
  await signIn.getByLabel('Management token (allow_mod)').fill('not-a-token');
  await signIn.getByRole('button', { name: 'Sign in' }).click();
  await fresh.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Rooms', exact: true }).click();
  await fresh.getByRole('alert').filter({ hasText: /\(unauthorized, HTTP 401\)/ }).waitFor();
  await fresh.close();
});
