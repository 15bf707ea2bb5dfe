import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { localProcessPerFile, ROOT } from '../support/local-process';

/**
 * A new user's first hour, as they run it: `npm start` on a DATA_DIR of its own (never .data), then the README's
 * commands and `npm run token` / `npm run call` through npm itself, with and without that DATA_DIR.
 */
const local = localProcessPerFile('e2e-first-hour-');
let emptyDir: string;
beforeAll(() => (emptyDir = mkdtempSync(join(tmpdir(), 'e2e-first-hour-empty-'))));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

const npmRun = (script: string, args: string[], dataDir: string) =>
  promisify(execFile)('npm', ['run', '-s', script, '--', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir }, timeout: 30_000 });

const connectors = (token: string) => fetch(`${local.stack.info.apiUrl}/v2/connectors`, { headers: { authorization: `Bearer ${token}` } });

it("the README's token command reads the state of npm start's DATA_DIR", async () => {
  const command = /export VIDEOSDK_TOKEN=\$\((node -p "[^"]+")\)/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))?.[1];
  expect(command).toBeDefined();
  const { stdout } = await promisify(execFile)('sh', ['-c', command as string], { cwd: ROOT, env: { ...process.env, DATA_DIR: local.dataDir } });
  expect(stdout.trim()).toBe(local.stack.info.token);
});

it('npm run token mints for the store of its DATA_DIR, names it, and refuses a DATA_DIR where npm start never ran', async () => {
  const minted = await npmRun('token', ['--apikey', 'first-hour', '--ttl', '10m'], local.dataDir);
  expect(minted.stderr).toContain(`token for tenant "first-hour" of the local stack in ${local.dataDir} (DATA_DIR)`);
  expect((await connectors(minted.stdout.trim())).status).toBe(200);

  await expect(npmRun('token', [], emptyDir)).rejects.toMatchObject({
    code: 2,
    stdout: '',
    stderr: expect.stringContaining(`token: no local stack in ${emptyDir} (DATA_DIR=${emptyDir}): no local-stack.json there. Run npm start with this DATA_DIR first`),
  });
}, 60_000);

it('npm run call places its call through the stack of its DATA_DIR, and names DATA_DIR when there is none', async () => {
  const { stdout } = await npmRun('call', ['--seconds', '0.5'], local.dataDir);
  expect(stdout).toMatch(/calls +1 of 1 completed/);
  expect(stdout).toMatch(/call 1 +call_[0-9a-z]{20} in room demo-room\n/);
  await expect(npmRun('call', ['--seconds', '0.5'], emptyDir)).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining(`call: --answer-url is required: no local stack in ${emptyDir} (DATA_DIR=${emptyDir})`),
  });
}, 60_000);

it('serves a landing page at / linking the console, the OpenAPI document and health, and a favicon', async () => {
  const page = await fetch(`${local.stack.info.apiUrl}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const html = await page.text();
  const links = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1] as string);
  expect(links).toEqual(expect.arrayContaining(['/console', '/v2/public/openapi.json', '/health', '/favicon.svg']));
  // No token on a page anyone reaching the port can read.
  expect(html).not.toContain(local.stack.info.token);
  for (const link of links) expect({ link, status: (await fetch(`${local.stack.info.apiUrl}${link}`)).status }).toEqual({ link, status: 200 });
  const icon = await fetch(`${local.stack.info.apiUrl}/favicon.ico`);
  expect(icon.headers.get('content-type')).toBe('image/svg+xml');
  expect(await icon.text()).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // Anything else is still the API's: JSON errors.
  expect((await fetch(`${local.stack.info.apiUrl}/nope`)).headers.get('content-type')).toContain('application/json');
});
