import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { NODE_TSX, ROOT } from '../support/local-process';

/** `npm run bench:charts` as a user runs it: the committed results in, SVG documents out. */
const run = (args: string[]) => promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/bench-charts.ts', ...args], { cwd: ROOT });

let out: string;
beforeEach(() => (out = mkdtempSync(join(tmpdir(), 'bench-charts-'))));
afterEach(() => rmSync(out, { recursive: true, force: true }));

/** Every text an SVG document shows (titles, axis labels, legends). */
function texts(svg: string): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'text') found.push(...[value].flat().map((t: unknown) => (typeof t === 'object' && t ? String((t as Record<string, unknown>)['#text']) : String(t))));
      else walk(value);
    }
  };
  walk(new XMLParser({ ignoreAttributes: true }).parse(svg));
  return found;
}

it('renders each chart from the committed JSON as a valid SVG document with its title, axes and series', async () => {
  const { stdout } = await run(['--out', out]);
  expect(stdout).toContain(`wrote ${join(out, 'cpu-per-call-second.svg')}`);
  const media = JSON.parse(readFileSync(join(ROOT, 'docs/benchmarks/media.json'), 'utf8')) as { steps: { mode: string; latencyP50Ms: number | null }[] };
  const modes = [...new Set(media.steps.map((s) => s.mode))];
  const timedModes = new Set(media.steps.filter((s) => s.latencyP50Ms !== null).map((s) => s.mode));
  // Each chart's labels, and its lines: one per mode, per mode and percentile, per percentile.
  const expected: Record<string, [string[], number]> = {
    'cpu-per-call-second.svg': [['Media server CPU per call-second', 'concurrent calls', 'CPU ms per call-second', ...modes], modes.length],
    'media-latency.svg': [['Media latency (Plivo frame in to playAudio out)', 'latency, ms (log scale)', ...timedModes], timedModes.size * 3],
    'answer-latency.svg': [['Answer URL latency', 'offered requests per second', 'p50', 'p99', 'max'], 3],
  };
  for (const [file, [labels, series]] of Object.entries(expected)) {
    const svg = readFileSync(join(out, file), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="\d+" height="\d+"/);
    expect(texts(svg)).toEqual(expect.arrayContaining(labels));
    expect(svg.match(/aria-roledescription="line mark container"/g)?.length).toBe(series);
  }
}, 60_000);

it('names the results file it cannot read', async () => {
  await expect(run(['--in', out])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(join(out, 'media.json')) });
}, 30_000);
