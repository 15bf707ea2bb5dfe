import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { checkPlivoSignature, type SignatureCheck } from '../../core/plivo/signature';
import { EMPTY_RESPONSE_XML } from '../../core/plivo/xml';

/**
 * The connector's side of Plivo's callbacks, as a real HTTP and WebSocket server on a loopback port: it records every
 * request Plivo (here, the emulator) makes, checks its V3 signature with core/plivo/signature.ts, and answers each
 * path with the XML a test set (`<Response/>` by default). Streams upgrade at `/stream`; their messages are recorded.
 */
export interface PlivoRequest {
  readonly method: string;
  readonly path: string;
  /** The form fields (POST) or the query's (GET). */
  readonly fields: Record<string, string>;
  readonly signature: SignatureCheck;
  readonly at: number;
}

export interface ReceivedStream {
  readonly path: string;
  readonly signature: SignatureCheck;
  readonly messages: Record<string, unknown>[];
  readonly socket: WebSocket;
  closed: boolean;
}

export async function startPlivoReceiver(authToken: string) {
  const requests: PlivoRequest[] = [];
  const streams: ReceivedStream[] = [];
  const replies = new Map<string, (fields: Record<string, string>) => string>();
  let base = '';
  // A stream upgrade is checked against its ws:// URL (checkPlivoSignature also tries the https: and http: forms).
  const signatureOf = (req: IncomingMessage, params: Map<string, string[]>, scheme = 'http') =>
    checkPlivoSignature(authToken, { method: req.method ?? '', url: base.replace(/^http/, scheme) + (req.url ?? ''), params, headers: req.headers as Record<string, string | undefined> });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      const form = req.method === 'POST' ? new URLSearchParams(Buffer.concat(chunks).toString('utf8')) : url.searchParams;
      const params = new Map<string, string[]>();
      if (req.method === 'POST') for (const [key, value] of form) params.set(key, [...(params.get(key) ?? []), value]);
      const fields = Object.fromEntries(form);
      requests.push({ method: req.method ?? '', path: url.pathname, fields, signature: signatureOf(req, params), at: Date.now() });
      const reply = replies.get(url.pathname);
      res.writeHead(200, { 'content-type': 'text/xml' }).end(reply ? reply(fields) : EMPTY_RESPONSE_XML);
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    const signature = signatureOf(req, new Map(), 'ws');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream: ReceivedStream = { path: req.url ?? '', signature, messages: [], socket: ws, closed: false };
      streams.push(stream);
      ws.on('message', (data: Buffer) => stream.messages.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>));
      ws.on('close', () => (stream.closed = true));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    streamUrl: `${base.replace(/^http/, 'ws')}/stream`,
    requests,
    streams,
    /** Answers requests to `path` with `xml` (or what it makes of the request's fields). */
    reply(path: string, xml: string | ((fields: Record<string, string>) => string)): void {
      replies.set(path, typeof xml === 'string' ? () => xml : xml);
    },
    /** The requests to `path`, in order. */
    at(path: string): PlivoRequest[] {
      return requests.filter((r) => r.path === path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type PlivoReceiver = Awaited<ReturnType<typeof startPlivoReceiver>>;
