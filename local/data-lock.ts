import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/config';

/** Held in DATA_DIR by the one `npm start` that uses it: its process id. */
export const LOCK_FILE = 'local-stack.lock';

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `dataDir` for this process, or refuses with the holder's pid and the lock's path: two stacks on one
 * DATA_DIR would share dynalite's files (LevelDB allows one opener) and the demo state. A lock left by a
 * process that is gone (killed) is taken over. Returns the release, a no-op once the lock is not ours.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const ours = String(process.pid);
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, ours);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8') === ours) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released between our attempt and this read
    }
    if (alive(holder)) {
      throw new ConfigError(
        `DATA_DIR ${dataDir} is in use by another npm start (pid ${holder}, lock ${path}). ` +
          'Stop that one (Ctrl-C) or give this one another DATA_DIR.',
      );
    }
    try {
      unlinkSync(path);
    } catch {
      // Another starter took the stale lock over first: try again, and meet it as the holder.
    }
  }
}
