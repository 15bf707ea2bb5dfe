import { build, type BuildOptions } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALL_TYPES, LIVE_STATUSES } from '../../core/calls/model';
import { DELIVERY_STATUSES } from '../../core/webhooks/model';
import type { ConsoleVocabulary } from './src/types';

/** Where the console's bundle is written, beside its static files; `ConsoleFiles` serves it from here. */
const CONSOLE_BUNDLE_DIR = join(__dirname, 'dist');

/**
 * The vocabularies the console's filters offer, read from the modules that own them at build time (those modules
 * import Node's crypto, so the browser gets their values, not the modules).
 */
const VOCABULARY: ConsoleVocabulary = { callTypes: CALL_TYPES, liveStatuses: LIVE_STATUSES, deliveryStatuses: DELIVERY_STATUSES };

const OPTIONS: BuildOptions = {
  entryPoints: [join(__dirname, 'src', 'main.tsx')],
  outfile: join(CONSOLE_BUNDLE_DIR, 'console.js'),
  bundle: true,
  format: 'esm',
  // What the console's users run: evergreen browsers with AudioWorklet.
  target: ['chrome111', 'firefox115', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: true,
  define: { CONSOLE_VOCABULARY: JSON.stringify(VOCABULARY) },
  logLevel: 'warning',
};

/**
 * Bundles the console (50-150 ms): `npm start` and the container build run it; the output is not committed. Each
 * file is written beside its place and renamed into it, so a media server starting meanwhile (another `npm start`,
 * tests run two at a time) reads the old bundle or the new one, never half of one.
 */
export async function buildConsole(): Promise<void> {
  const { outputFiles } = await build({ ...OPTIONS, write: false });
  mkdirSync(CONSOLE_BUNDLE_DIR, { recursive: true });
  for (const file of outputFiles) {
    const partial = `${file.path}.${process.pid}.partial`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
}

if (require.main === module) {
  buildConsole().catch((err: unknown) => {
    process.stderr.write(`console build failed: ${String(err)}\n`);
    process.exit(1);
  });
}
