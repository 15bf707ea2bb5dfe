import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { ROOT } from '../support/local-process';

/**
 * `npm run check` on a machine without Chromium or DynamoDB Local's needs: the tests that need them are skipped, saying
 * why, unless CI is set (then they fail). Jest runs the real test files here, in a process of its own.
 */
function jest(file: string, env: Record<string, string | undefined>): { status: number | null; output: string } {
  const inherited = { ...process.env };
  delete inherited.CI;
  const out = spawnSync(process.execPath, [join(ROOT, 'node_modules/jest/bin/jest.js'), '--ci', file], { cwd: ROOT, env: { ...inherited, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: out.status, output: out.stdout + out.stderr };
}

it("skips the console's tests without Chromium, naming CHROMIUM_PATH; in CI they fail", () => {
  const skipped = jest('test/e2e/console.test.ts', { CHROMIUM_PATH: '/nonexistent/chromium' });
  expect(skipped.output).toContain("the console's tests are skipped: no Chromium at /nonexistent/chromium: install Debian's chromium, or set CHROMIUM_PATH");
  expect(skipped.output).toMatch(/Tests: 0 passed, 0 failed, 12 skipped/);
  expect(skipped.status).toBe(0);

  const ci = jest('test/e2e/console.test.ts', { CHROMIUM_PATH: '/nonexistent/chromium', CI: 'true' });
  expect(ci.output).toContain("CI runs the console's tests in Chromium: no Chromium at /nonexistent/chromium");
  expect(ci.status).toBe(1);
}, 120_000);

it("skips DynamoDB Local's tests where it cannot run, saying why; in CI they fail", () => {
  // A PATH with node alone: no java.
  const path = dirname(process.execPath);
  const skipped = jest('test/support/dynamodb-local.test.ts', { PATH: path });
  expect(skipped.output).toContain('dynamodb-local.test.ts: skipped: no usable `java` on PATH');
  expect(skipped.status).toBe(0);

  const ci = jest('test/support/dynamodb-local.test.ts', { PATH: path, CI: 'true' });
  expect(ci.output).toContain('CI must test DynamoDB Local: no usable `java` on PATH');
  expect(ci.status).toBe(1);
}, 120_000);
