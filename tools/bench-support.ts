import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { LocalStackInfo } from '../local/stack';

/** What the benchmarks share: the stack in its own process, CPU accounting from /proc, calibration. */
export const ROOT = join(__dirname, '..');

export const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
export const round = (n: number): number => Math.round(n * 100) / 100;

/** CPU milliseconds a process has used so far (utime + stime from /proc; clock ticks are 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Starts `npm start`'s stack in its own process; `onLogLine` sees each line of its JSON logs. */
export async function startStack(dataDir: string, profileDir?: string, onLogLine?: (line: string) => void): Promise<{ info: LocalStackInfo; pids: { api: number; dynalite: number }; stop: () => Promise<void> }> {
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'local/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', DATA_DIR: dataDir, API_RATE_LIMIT: '100000', API_BURST_LIMIT: '100000' },
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
  return {
    info,
    pids: { api, dynalite: childrenOf(api)[0] ?? api },
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
