import { WebSocket } from 'ws';
import { createLogger } from '../../core/log';
import { PlivoEmulator } from '../../local/plivo/emulator';

/** The emulator's callee registration (`npm run call -- --answer`): this laptop's tools alone, bounded. */
let emulator: PlivoEmulator;
beforeEach(async () => {
  emulator = await PlivoEmulator.start({ log: createLogger('error', { service: 'plivo-emulator' }), authTokenOf: () => undefined });
});
afterEach(() => emulator.close());

/** The first message of a registration, or the refusal's status and body. */
function register(number: string, headers: Record<string, string> = {}): Promise<{ ws?: WebSocket; first?: unknown; status?: number; body?: string }> {
  const ws = new WebSocket(`${emulator.calleesUrl}?number=${encodeURIComponent(number)}`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('message', (data: Buffer) => resolve({ ws, first: JSON.parse(data.toString()) }));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode, body });
      });
    });
    ws.once('error', reject);
  });
}

it('registers a number once, and again once its tool has gone', async () => {
  const first = await register('+14155550123');
  expect(first.first).toEqual({ type: 'registered', number: '+14155550123' });
  // The same number spelled without `+`.
  expect(await register('14155550123')).toMatchObject({ status: 409, body: expect.stringContaining('"code":"conflict"') as unknown });
  const closed = new Promise((resolve) => first.ws?.once('close', resolve));
  first.ws?.close();
  await closed;
  const again = await register('+14155550123');
  expect(again.first).toMatchObject({ type: 'registered' });
  again.ws?.close();
});

it('refuses a browser (an Origin), another Host, and what is not a number', async () => {
  expect(await register('+14155550123', { origin: 'https://evil.example' })).toMatchObject({ status: 403 });
  expect(await register('+14155550123', { host: 'evil.example' })).toMatchObject({ status: 403 });
  const port = new URL(emulator.url).port;
  expect(await register('+14155550123', { host: `evil.example:${port}` })).toMatchObject({ status: 403 });
  expect(await register('sip:desk@example.com')).toMatchObject({ status: 400, body: expect.stringContaining('number must be a phone number') as unknown });
});

it('holds at most 16 tools', async () => {
  const held = await Promise.all(Array.from({ length: 16 }, (_, i) => register(`+1415555${String(1000 + i)}`)));
  expect(held.every((r) => r.first !== undefined)).toBe(true);
  expect(await register('+14155559999')).toMatchObject({ status: 409, body: expect.stringContaining('at most 16') as unknown });
  for (const r of held) r.ws?.close();
});
