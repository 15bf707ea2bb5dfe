import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ErrorCode } from '../../core/errors';

/** The web console's files, served at `/console`: static files beside `src/`, the bundle `npm run build:console` writes. */
const CONSOLE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/console/audio-worklet.js': { file: 'audio-worklet.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.js': { file: 'dist/console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.js.map': { file: 'dist/console.js.map', type: 'application/json' },
};
/** The one file whose absence means the console was not built. */
const BUNDLE = 'dist/console.js';

const contentSecurityPolicy = (apiOrigin: string | null) =>
  `default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'${apiOrigin ? ` ${apiOrigin}` : ''}; img-src 'self' data:; ` +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface ConsoleOptions {
  /** The management API the console calls when it is not this server's origin (AWS: API Gateway); null: same origin. */
  readonly apiUrl: string | null;
  /** Where the files are; the media server's own `console/` by default. */
  readonly dir?: string;
}

/**
 * The web console (`GET /console`), read once at start. A server whose console was never built (a test that starts
 * the media server alone) still runs; its `/console` says how to build it (503 `unavailable`).
 */
export class ConsoleFiles {
  private readonly files: Map<string, { type: string; body: Buffer }>;
  private readonly built: boolean;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(options: ConsoleOptions) {
    const dir = options.dir ?? join(__dirname, '..', 'console');
    this.built = existsSync(join(dir, BUNDLE));
    const apiOrigin = options.apiUrl ? new URL(options.apiUrl).origin : null;
    this.headers = {
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': contentSecurityPolicy(apiOrigin),
    };
    const files = Object.entries(CONSOLE_FILES)
      .filter(([, { file }]) => existsSync(join(dir, file)))
      .map(([path, { file, type }]) => [path, { type, body: readFileSync(join(dir, file)) }] as const);
    // What the page asks first: which API to call (`apiUrl` null: this origin, as `npm start` serves both).
    files.push(['/console/config.json', { type: 'application/json', body: Buffer.from(JSON.stringify({ apiUrl: options.apiUrl })) }]);
    this.files = new Map(files);
  }

  /** Serves the file at `path`; false when there is none. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    const file = this.files.get(path);
    if (!file) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Method not allowed', code: 'method_not_allowed' }));
      return true;
    }
    if (!this.built && path === '/console') {
      const body: { message: string; code: ErrorCode } = { message: 'The console is not built: run npm run build:console', code: 'unavailable' };
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return true;
    }
    res.writeHead(200, { ...this.headers, 'content-type': file.type, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }
}
