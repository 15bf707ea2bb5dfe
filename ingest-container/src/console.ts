import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

/** The web console's files, served at `/console`. */
const CONSOLE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/audio-worklet.js': { file: 'audio-worklet.js', type: 'text/javascript; charset=utf-8' },
};
const CONSOLE_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** The web console (`GET /console`), read once at start. */
export class ConsoleFiles {
  private readonly files = new Map(
    Object.entries(CONSOLE_FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(join(__dirname, '..', 'console', file)) }]),
  );

  /** Serves the file at `path`; false when there is none. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    const file = this.files.get(path);
    if (!file) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Method not allowed', code: 'method_not_allowed' }));
      return true;
    }
    res.writeHead(200, { ...CONSOLE_HEADERS, 'content-type': file.type, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }
}
