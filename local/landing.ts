import type { IncomingMessage, ServerResponse } from 'node:http';

/** The local stack's mark: a room (a circle) with a call in it (a dot), in the console's colour. */
const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="13" fill="none" stroke="#2563eb" stroke-width="4"/><circle cx="16" cy="16" r="5" fill="#2563eb"/></svg>`;

/**
 * What `/` on the local port shows a new user: where things are. It holds no token (the port may be reachable from other
 * machines with HOST set): the console asks for the one `npm start` printed, or takes it from the printed Console link.
 */
const LANDING = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plivo connector, local stack</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#f1f5f9;padding:0 .2em}</style>
</head><body>
<h1>Plivo connector, local stack</h1>
<ul>
<li><a href="/console">Console</a>: live rooms, calls, connectors, webhook deliveries. Open the <b>Console</b> link <code>npm start</code> printed: it carries the demo tenant's token.</li>
<li><a href="/v2/public/openapi.json">OpenAPI document</a> of the REST API (<code>/v2/…</code>, Bearer token).</li>
<li><a href="/health">Health</a>: <code>starting</code>, <code>serving</code> or <code>stopping</code>.</li>
</ul>
<p>Place a simulated call into the demo room: <code>npm run call -- --seconds 10 --echo</code>.</p>
</body></html>
`;

const PAGES: Readonly<Record<string, { readonly type: string; readonly body: string }>> = {
  '/': { type: 'text/html; charset=utf-8', body: LANDING },
  '/favicon.svg': { type: 'image/svg+xml', body: FAVICON },
  // Browsers ask for /favicon.ico unless a page names its icon; they take an SVG there too.
  '/favicon.ico': { type: 'image/svg+xml', body: FAVICON },
};

/** Answers `/` and the favicon on the local port; false for every other request (the API's and the console's). */
export function serveLanding(req: IncomingMessage, res: ServerResponse): boolean {
  const page = PAGES[(req.url ?? '').split('?')[0] ?? ''];
  if (!page || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  res.writeHead(200, { 'content-type': page.type, 'content-length': Buffer.byteLength(page.body), 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : page.body);
  return true;
}
