import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleFiles, type ConsoleOptions } from '../../ingest-container/src/console';

/** The media server's `/console` files, from a directory of its own, on a real server on port 0. */
let dir: string;
let server: Server | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'console-files-'));
  for (const file of ['index.html', 'console.css', 'audio-worklet.js']) writeFileSync(join(dir, file), `/* ${file} */`);
});
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function serve(options: Omit<ConsoleOptions, 'dir'>): Promise<string> {
  const files = new ConsoleFiles({ ...options, dir });
  server = createServer((req, res) => {
    if (!files.serve(req.url ?? '', req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const built = () => {
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'console.js'), 'export {};');
};

it('serves the built console under a policy that allows its own origin only, and says the API is here', async () => {
  built();
  const base = await serve({ apiUrl: null });
  const page = await fetch(`${base}/console`);
  expect(page.status).toBe(200);
  const csp = page.headers.get('content-security-policy');
  expect(csp).toContain("script-src 'self';");
  expect(csp).toContain("connect-src 'self';");
  expect(csp).not.toMatch(/unsafe/);
  expect((await fetch(`${base}/console/console.js`)).status).toBe(200);
  expect(await (await fetch(`${base}/console/config.json`)).json()).toEqual({ apiUrl: null });
  expect((await fetch(`${base}/console/console.js.map`)).status).toBe(404);
});

it("names the API of CONSOLE_API_URL, and lets the page call that origin alone", async () => {
  built();
  const base = await serve({ apiUrl: 'https://api.example.com/' });
  expect((await fetch(`${base}/console`)).headers.get('content-security-policy')).toContain("connect-src 'self' https://api.example.com;");
  expect(await (await fetch(`${base}/console/config.json`)).json()).toEqual({ apiUrl: 'https://api.example.com/' });
});

it('answers 503 unavailable, naming the command, when the bundle was never built', async () => {
  const base = await serve({ apiUrl: null });
  const res = await fetch(`${base}/console`);
  expect(res.status).toBe(503);
  expect(await res.json()).toEqual({ message: 'The console is not built: run npm run build:console', code: 'unavailable' });
});
