import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LocalStackInfo } from '../../local/stack';

export const ROOT = join(__dirname, '..', '..');
/** node with tsx's loader: one process, so signals reach the stack itself (the tsx CLI is a wrapper process). */
export const NODE_TSX = [process.execPath, '--import', 'tsx'] as const;

/** How long `stop()` waits for a clean exit before it kills the process (a hook's timeout is 30 s). */
const STOP_DEADLINE_MS = 20_000;

export interface LocalProcess {
  readonly info: LocalStackInfo;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Ctrl-C, as a user stops it in a terminal (SIGINT to its whole process group); resolves with the exit code (null if it had to be killed). */
  stop(): Promise<number | null>;
}

/** `npm start` as a user runs it: a real process on port 0, with its data under `dataDir`. */
export async function startLocalProcess(dataDir: string, env: Record<string, string> = {}): Promise<LocalProcess> {
  // A process group of its own, as a shell gives a foreground job: `stop()` sends Ctrl-C to the group, as a terminal does.
  const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'local/start.ts'], { cwd: ROOT, env: { ...process.env, PORT: '0', DATA_DIR: dataDir, ...env }, stdio: 'pipe', detached: true });
  let output = '';
  const onData = (chunk: Buffer) => {
    if (output.length < 5_000_000) output += chunk.toString();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 20_000);
      const poll = setInterval(() => {
        if (output.includes('export VIDEOSDK_TOKEN=')) {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        }
      }, 20);
      child.once('exit', (code) => {
        clearInterval(poll);
        reject(new Error(`npm start exited with ${code}:\n${output}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const info = JSON.parse(readFileSync(join(dataDir, 'local-stack.json'), 'utf8')) as LocalStackInfo;
  return {
    info,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      process.kill(-(child.pid as number), 'SIGINT');
      // A stop that hangs is killed, its log shown (the caller sees exit code null): never a hook timeout that says nothing.
      const forced = setTimeout(() => {
        process.stderr.write(`npm start did not stop within ${STOP_DEADLINE_MS} ms of Ctrl-C; killed. Its output ended:\n${output.slice(-20_000)}\n`);
        process.kill(-(child.pid as number), 'SIGKILL');
      }, STOP_DEADLINE_MS);
      return exited.finally(() => clearTimeout(forced));
    },
  };
}

/** A management API request as the stack's demo tenant (or with `token`); the reply's status and `data`. */
export async function apiRequest(stack: LocalProcess, method: string, path: string, body?: unknown, token = stack.info.token): Promise<{ status: number; data: Record<string, unknown>; body: Record<string, unknown> }> {
  const res = await fetch(stack.info.apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  // `data` for the responses that wrap their object in it; `body` whole, for those that do not (/v2/sip/…).
  const answer = (await res.json()) as Record<string, unknown> & { data: Record<string, unknown> };
  return { status: res.status, data: answer.data, body: answer };
}

/** Polls `probe` every 50 ms until it returns a value. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One `npm start` process for a test file, with `env` added: started before its tests, stopped (its data removed) after. */
export function localProcessPerFile(prefix: string, env: Record<string, string> = {}): { readonly stack: LocalProcess; readonly dataDir: string } {
  const local = {} as { stack: LocalProcess; dataDir: string };
  beforeAll(async () => {
    local.dataDir = mkdtempSync(join(tmpdir(), prefix));
    local.stack = await startLocalProcess(local.dataDir, env);
  }, 30_000);
  afterAll(async () => {
    await local.stack?.stop();
    rmSync(local.dataDir, { recursive: true, force: true });
  });
  return local;
}

/** A token of another tenant (`apikey`) of the stack's data, minted as a user does (`tools/token.ts`). */
export async function tenantToken(dataDir: string, apikey: string): Promise<string> {
  const { stdout } = await promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/token.ts', '--apikey', apikey], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir } });
  return stdout.trim();
}
