import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../core/env';
import { LOCAL_DEFAULTS, loadLocalConfig } from './config';
import { STATE_FILE, type LocalStackInfo } from './stack';

/** What `npm start` wrote to `DATA_DIR/local-stack.json`, for the tools that work with it (`npm run token`, `npm run call`). */
export interface LocalState {
  readonly dataDir: string;
  readonly info: LocalStackInfo;
}

/**
 * The local stack's state in the data directory `env` names (`DATA_DIR`, as `npm start` reads it). None there is an
 * error that names `DATA_DIR`: a tool run without the `DATA_DIR` of `npm start` would otherwise work on another store.
 */
export function readLocalState(env: Env): LocalState {
  const { dataDir } = loadLocalConfig(env);
  const file = join(dataDir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    const setting = env.DATA_DIR?.trim() ? `DATA_DIR=${env.DATA_DIR.trim()}` : `DATA_DIR unset, so ${LOCAL_DEFAULTS.DATA_DIR}`;
    throw new Error(`no local stack in ${dataDir} (${setting}): no ${STATE_FILE} there. Run npm start with this DATA_DIR first, or set DATA_DIR to the one npm start runs with`);
  }
  return { dataDir, info: JSON.parse(text) as LocalStackInfo };
}
