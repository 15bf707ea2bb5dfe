import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookPayload } from '../../core/webhooks/model';

export interface ReceivedWebhook {
  readonly headers: IncomingHttpHeaders;
  /** The exact bytes received. */
  readonly body: Buffer;
  readonly payload: WebhookPayload;
  readonly at: number;
}

/** How the receiver answers its n-th request (0-based): a status, or `hang` to never answer. */
export type Answer = (n: number, payload: WebhookPayload) => number | 'hang';

/**
 * A real HTTP server on a loopback port, acting as a user's webhook endpoint; on `port` to bring an endpoint
 * back where it was (0: any free port).
 */
export async function startReceiver(answer: Answer = () => 200, port = 0) {
  const received: ReceivedWebhook[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const payload = JSON.parse(body.toString('utf8')) as WebhookPayload;
      const n = received.length;
      received.push({ headers: req.headers, body, payload, at: Date.now() });
      const status = answer(n, payload);
      if (status === 'hang') hanging.push(res);
      else res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        hanging.forEach((res) => res.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
