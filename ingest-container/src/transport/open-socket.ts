import { isIP } from 'node:net';
import { WebSocket } from 'ws';
import { isPublicAddress, publicOnlyLookup } from '../../../core/webhooks/targets';

export interface OpenOptions {
  readonly timeoutMs: number;
  readonly maxPayload: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborting closes the attempt (and rejects). */
  readonly signal?: AbortSignal;
  /**
   * Only public addresses may be connected to (a tenant's URL): a literal address is checked here, a host name's
   * addresses as they are resolved for this very connection (no rebinding between check and connect).
   */
  readonly publicOnly?: boolean;
  /**
   * Called with the socket before it connects, to listen from the first message: one sent with the
   * upgrade's reply arrives before a listener added once the promise resolves.
   */
  readonly prepare?: (ws: WebSocket) => void;
}

/** The server answered the upgrade with an HTTP status instead of switching protocols (a redirect too: none is followed). */
export class UpgradeRefused extends Error {
  override readonly name = 'UpgradeRefused';
  constructor(readonly status: number) {
    super(`the upgrade was answered with HTTP ${status}`);
  }
}

/** The URL's host is, or resolves to, an address that is not public. */
export class AddressRefused extends Error {
  override readonly name = 'AddressRefused';
  constructor(host: string) {
    super(`${host} is not a public address`);
  }
}

/**
 * Opens a WebSocket client connection: resolves once open, rejects on a network or TLS error, a timeout, an
 * abort, a refused address or an upgrade answered with an HTTP status (named in the error). Never throws or
 * emits past the promise: the socket keeps a listener for errors nobody else may be listening for yet.
 */
export function openSocket(url: string, options: OpenOptions): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      if (options.publicOnly && isIP(host) && !isPublicAddress(host)) throw new AddressRefused(host);
      ws = new WebSocket(url, {
        handshakeTimeout: options.timeoutMs,
        perMessageDeflate: false,
        maxPayload: options.maxPayload,
        headers: options.headers,
        followRedirects: false,
        ...(options.publicOnly && { lookup: publicOnlyLookup }),
      });
    } catch (err) {
      // A URL ws cannot parse, or a refused literal address.
      return reject(err instanceof Error ? err : new Error(String(err)));
    }
    const ignore = () => {};
    const abort = () => ws.terminate();
    const settle = () => {
      options.signal?.removeEventListener('abort', abort);
      ws.off('error', fail).off('unexpected-response', refused);
    };
    function fail(err: Error): void {
      settle();
      // terminate() of a socket still connecting emits one more error: this attempt's, already reported.
      ws.on('error', ignore);
      ws.terminate();
      reject(err);
    }
    const refused = (_req: unknown, res: { statusCode?: number }) => fail(new UpgradeRefused(res.statusCode ?? 0));
    options.signal?.addEventListener('abort', abort, { once: true });
    ws.once('open', () => {
      settle();
      // Bytes that came with the upgrade's reply are read before whoever awaits this can listen: a bad frame among
      // them emits an error then (ws closes the socket after it, which its owner sees). Without a listener it would throw.
      ws.on('error', ignore);
      resolve(ws);
    });
    ws.on('error', fail);
    ws.once('unexpected-response', refused);
    if (options.signal?.aborted) abort();
    try {
      options.prepare?.(ws);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
