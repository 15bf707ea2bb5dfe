import { WebSocket } from 'ws';

export interface OpenOptions {
  readonly timeoutMs: number;
  readonly maxPayload: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborting closes the attempt (and rejects). */
  readonly signal?: AbortSignal;
  /**
   * Called with the socket before it connects, to listen from the first message: one sent with the
   * upgrade's reply arrives before a listener added once the promise resolves.
   */
  readonly prepare?: (ws: WebSocket) => void;
}

/** The server answered the upgrade with an HTTP status instead of switching protocols. */
export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  constructor(readonly status: number) {
    super(`the upgrade was answered with HTTP ${status}`);
  }
}

/**
 * Opens a WebSocket client connection: resolves once open, rejects on a network error, a timeout, an abort
 * or an upgrade answered with an HTTP status (named in the error).
 */
export function openSocket(url: string, options: OpenOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: options.timeoutMs, perMessageDeflate: false, maxPayload: options.maxPayload, headers: options.headers });
    options.prepare?.(ws);
    const abort = () => ws.terminate();
    const fail = (err: Error) => {
      settle();
      ws.terminate();
      reject(err);
    };
    const refused = (_req: unknown, res: { statusCode?: number }) => fail(new UpgradeRefused(res.statusCode ?? 0));
    const settle = () => {
      options.signal?.removeEventListener('abort', abort);
      ws.off('error', fail).off('unexpected-response', refused);
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    ws.once('open', () => {
      settle();
      resolve(ws);
    });
    ws.once('error', fail);
    ws.once('unexpected-response', refused);
  });
}
