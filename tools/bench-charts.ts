import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };

const USAGE = `Renders the benchmark charts of docs/BENCHMARKS.md, as SVG, from the committed results.

  npm run bench:charts -- [--in docs/benchmarks] [--out docs/benchmarks]

Reads media.json and answer.json in --in; writes cpu-per-call-second.svg, media-latency.svg and answer-latency.svg
to --out (default: --in). No browser: vega renders the SVG itself.`;

/** The fields of `docs/benchmarks/media.json` the charts read (bench-media.ts writes them). */
interface MediaResults {
  readonly date: string;
  readonly steps: readonly {
    readonly mode: string;
    readonly calls: number;
    readonly serverCpuMsPerCallSecond: number;
    readonly latencyP50Ms: number | null;
    readonly latencyP99Ms: number | null;
    readonly latencyMaxMs: number | null;
  }[];
}

/** The fields of `docs/benchmarks/answer.json` the charts read (bench-answer.ts writes them). */
interface AnswerResults {
  readonly date: string;
  readonly steps: readonly { readonly offeredRps: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number }[];
}

type Row = Record<string, string | number>;

const PERCENTILES = ['p50', 'p99', 'max'] as const;

/** A line per series over `x`, with points, in the house size; `extra` adds encodings (stroke dash, ...). */
function lines(title: string, subtitle: string, rows: Row[], x: { field: string; title: string }, y: { field: string; title: string; log?: boolean }, color: { field: string; title: string; domain: readonly string[] }, extra: Record<string, unknown> = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    width: 520,
    height: 280,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: x.field, type: 'quantitative', title: x.title },
      y: { field: y.field, type: 'quantitative', title: y.title, ...(y.log && { scale: { type: 'log' } }) },
      // One domain per series kind, so a mode keeps its colour on every chart.
      color: { field: color.field, type: 'nominal', title: color.title, scale: { domain: [...color.domain] } },
      ...extra,
    },
    config: { font: 'sans-serif', background: 'white' },
  };
}

/** The chart specs, by output file name, from the committed results. */
function chartSpecs(media: MediaResults, answer: AnswerResults): Record<string, TopLevelSpec> {
  const mediaDate = media.date.slice(0, 10);
  const mode = { field: 'mode', title: 'mode', domain: [...new Set(media.steps.map((s) => s.mode))] };
  const latencyRows = media.steps.flatMap((s) =>
    PERCENTILES.map((p) => ({ mode: s.mode, calls: s.calls, percentile: p, ms: { p50: s.latencyP50Ms, p99: s.latencyP99Ms, max: s.latencyMaxMs }[p] })).filter((r): r is typeof r & { ms: number } => r.ms !== null),
  );
  const answerRows = answer.steps.flatMap((s) => PERCENTILES.map((p) => ({ offeredRps: s.offeredRps, percentile: p, ms: { p50: s.p50Ms, p99: s.p99Ms, max: s.maxMs }[p] })));
  // Dashes say the percentile (the subtitle names them): vega's legend draws no symbol for a dash beside point marks.
  const dash = { strokeDash: { field: 'percentile', type: 'nominal', scale: { domain: [...PERCENTILES], range: [[1, 0], [6, 3], [2, 2]] }, legend: null } };
  return {
    'cpu-per-call-second.svg': lines(
      'Media server CPU per call-second',
      `npm run bench:media, ${mediaDate}; pump = a bare ws echo, the floor`,
      media.steps.map((s) => ({ mode: s.mode, calls: s.calls, cpu: s.serverCpuMsPerCallSecond })),
      { field: 'calls', title: 'concurrent calls' },
      { field: 'cpu', title: 'CPU ms per call-second' },
      mode,
    ),
    'media-latency.svg': lines(
      'Media latency (Plivo frame in to playAudio out)',
      `npm run bench:media, ${mediaDate}; solid p50, dashed p99, dotted max`,
      latencyRows,
      { field: 'calls', title: 'concurrent calls' },
      { field: 'ms', title: 'latency, ms (log scale)', log: true },
      mode,
      dash,
    ),
    'answer-latency.svg': lines(
      'Answer URL latency',
      `npm run bench:answer, ${answer.date.slice(0, 10)}`,
      answerRows,
      { field: 'offeredRps', title: 'offered requests per second' },
      { field: 'ms', title: 'latency, ms' },
      { field: 'percentile', title: 'percentile', domain: PERCENTILES },
    ),
  };
}

/** Renders a vega-lite spec to an SVG document, with no browser (vega's headless view). */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Both are ES modules only: imported at run time from this CommonJS module.
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      in: { type: 'string', default: join('docs', 'benchmarks') },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const out = values.out ?? values.in;
  const specs = chartSpecs(readJson<MediaResults>(join(values.in, 'media.json')), readJson<AnswerResults>(join(values.in, 'answer.json')));
  for (const [file, spec] of Object.entries(specs)) {
    writeFileSync(join(out, file), (await renderSvg(spec)) + '\n');
    process.stdout.write(`wrote ${join(out, file)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:charts: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
  process.exit(2);
});
