import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { signV3 } from '../core/plivo/signature';
import type { LocalStackInfo } from '../local/stack';

/** What the benchmarks share: the stack in its own process, CPU accounting from /proc, calibration. */
export const ROOT = join(__dirname, '..');

export const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
export const round = (n: number): number => Math.round(n * 100) / 100;

/** CPU milliseconds a process (or the calling thread) has used so far (utime + stime from /proc; clock ticks are 10 ms). */
export function cpuMs(pid: number | 'thread-self'): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A process's resident set size in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? NaN);
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process's command line, its arguments joined by spaces ('' once it has gone). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** `pid` and every process below it. */
function processTree(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(processTree)];
}

/** The stack's processes: the API (and AWS stand-ins), dynalite, and each media server. */
export interface StackPids {
  readonly api: number;
  readonly dynalite: number;
  readonly media: readonly number[];
  /** The whole `npm start` process tree: the API process and every process below it. */
  readonly tree: readonly number[];
}

/** Starts `npm start`'s stack in its own process; `onLogLine` sees each line of its JSON logs. */
export async function startStack(
  dataDir: string,
  options: { profileDir?: string; onLogLine?: (line: string) => void; env?: Record<string, string> } = {},
): Promise<{ info: LocalStackInfo; pids: StackPids; stop: () => Promise<void> }> {
  const { profileDir, onLogLine } = options;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir, API_RATE_LIMIT: '100000', API_BURST_LIMIT: '100000', EDGE_HOOKS_RATE_LIMIT: '2000000000', EDGE_API_RATE_LIMIT: '2000000000', ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  let partial = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (output.length < 100_000) output += chunk.toString();
      if (output.includes('export VIDEOSDK_TOKEN=')) resolve();
      if (!onLogLine) return;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach(onLogLine);
    });
    child.once('exit', (code) => reject(new Error(`local stack exited with ${code}`)));
  });
  const info = JSON.parse(readFileSync(join(dataDir, 'local-stack.json'), 'utf8')) as LocalStackInfo;
  const api = child.pid as number;
  const media = info.mediaServers.map((server) => server.pid);
  return {
    info,
    pids: { api, dynalite: childrenOf(api).find((pid) => commandLine(pid).includes('dynalite')) ?? api, media, tree: processTree(api) },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

/**
 * A fixed amount of single-threaded work, timed: this VM's CPU speed varies several-fold from minute to
 * minute, so every report carries it, and runs are only comparable at similar calibration figures.
 */
export function calibrationMs(): number {
  const started = performance.now();
  let x = 0;
  for (let i = 0; i < 1e8; i++) x += i;
  if (x < 0) throw new Error('unreachable');
  return round(performance.now() - started);
}

export function machine(calibration: number) {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, calibrationMs: calibration };
}

/** Writes `docs/benchmarks/<name>.json`. */
export function writeReport(name: string, report: object): void {
  mkdirSync(join(ROOT, 'docs', 'benchmarks'), { recursive: true });
  writeFileSync(join(ROOT, 'docs', 'benchmarks', `${name}.json`), JSON.stringify(report, null, 2) + '\n');
}

/** Creates a Plivo connector (no auth token) routing to `defaultRoomId`; returns its Answer URL. */
export async function benchConnector(info: LocalStackInfo, name: string): Promise<string> {
  const res = await fetch(info.apiUrl + '/v2/connectors', {
    method: 'POST',
    headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'plivo', name, defaultRoomId: name }),
  });
  return ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
}

/** Plain `http.request` on kept-alive sockets: the load generator shares the machine, so it must be light. */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A new call's Answer URL POST as Plivo sends it, V3-signed by `authToken`: its form body and headers. */
export function answerRequest(url: string, authToken: string): { readonly body: string; readonly headers: Record<string, string> } {
  const fields = { CallUUID: randomUUID(), From: '919812345678', To: '14155550199', Direction: 'inbound', CallStatus: 'ringing', Event: 'StartApp' };
  const nonce = randomBytes(8).toString('hex');
  const signature = signV3(authToken, 'POST', url, new Map(Object.entries(fields).map(([k, v]) => [k, [v]])), nonce);
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-plivo-signature-v3': signature, 'x-plivo-signature-v3-nonce': nonce },
  };
}

/** One V3-signed Answer URL POST for a new call (`answerRequest`); true when it was answered with a `<Stream>`. */
export async function signedAnswer(url: string, authToken: string): Promise<boolean> {
  const { body, headers } = answerRequest(url, authToken);
  const res = await post(url, headers, body);
  return res.status === 200 && res.body.includes('<Stream');
}
