import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../../core/log';
import { plivoSignatureHeaders } from '../../core/plivo/signature';
import { refuse } from '../../ingest-container/src/transport/refuse';
import type { ReceivedFrame } from '../../tools/plivo-simulator';

/**
 * Callees answered by a tool on the laptop (`npm run call -- --answer <number>`) instead of the emulator's own tone.
 * The tool registers a number over a WebSocket on the emulator's port (`/callee?number=+14155550123`); when a call to
 * that number runs a `<Stream>`, the emulator hands the tool the stream's URL and the V3 signature headers of its
 * upgrade (never the auth token), the tool opens the stream itself with the simulator (`start`, real-time `media`,
 * `stop`) and records what it hears, and the emulator keeps the rest of Plivo's side (ringing, `time_limit`, Hang up,
 * Transfer, the status callbacks). docs/plivo-emulator.md describes the messages.
 */

/** One stream of a call, as the emulator drives it: its own simulated callee, or a registered tool's. */
export interface CalleeStream {
  readonly streamId: string;
  /** What the connector played to the callee (empty for a tool's stream: the tool records it). */
  readonly received: readonly ReceivedFrame[];
  /** Opens the stream (the signed upgrade, `start` with `callUuid` and the `<Stream>`'s `extraHeaders`); rejects when it cannot. */
  connect(url: string, callUuid: string, extraHeaders: string): Promise<void>;
  /** Ends the stream as Plivo does (`stop`, the close); resolves once it is closed. */
  closeStream(): Promise<void>;
  /** Resolves when the stream has closed, whoever closed it. */
  closed(): Promise<void>;
}

/** What the emulator tells a registered tool. */
export type ToCallee =
  | { readonly type: 'registered'; readonly number: string }
  /** Open this stream: `headers` are the upgrade's V3 signature headers, made with the account's auth token. */
  | {
      readonly type: 'stream';
      readonly streamId: string;
      readonly callUuid: string;
      readonly url: string;
      readonly headers: Readonly<Record<string, string>>;
      /** The `<Stream>`'s `extraHeaders`, as `start` carries them (`;`-separated). */
      readonly extraHeaders: string;
      readonly answerUrl: string;
      readonly from: string;
      readonly to: string;
      readonly accountId: string;
    }
  /** The call ended or was transferred: send `stop` and close the stream. */
  | { readonly type: 'close'; readonly streamId: string };

/** What a registered tool tells the emulator. */
export type FromCallee =
  | { readonly type: 'connected' | 'closed'; readonly streamId: string }
  | { readonly type: 'failed'; readonly streamId: string; readonly message: string }
  /** The callee hangs up (only a call it answers). */
  | { readonly type: 'hangup'; readonly callUuid: string };

/** The call a tool's stream belongs to, as the emulator knows it. */
export interface StreamCall {
  readonly callUuid: string;
  readonly authId: string;
  readonly authToken: string;
  readonly answerUrl: string;
  readonly from: string;
  readonly to: string;
}

export const CALLEE_PATH = '/callee';
/** Tools registered at once: each is a person's terminal, a few at most. */
const MAX_CALLEES = 16;
/** Streams one tool holds open at once (its `--calls`); a stream beyond them fails to connect, as an unreachable one does. */
const MAX_STREAMS_PER_CALLEE = 100;
const MAX_MESSAGE_BYTES = 4096;
/** A tool that neither opens nor refuses a stream within this long has failed that attempt. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A tool asked to close a stream that has not said it did within this long: the stream counts as closed. */
const CLOSE_TIMEOUT_MS = 10_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The number's digits: `+1 415 555 0123` and `14155550123` are one callee. */
export const calleeKey = (number: string): string => number.replace(/\D/g, '');

class ToolStream implements CalleeStream {
  readonly streamId = randomUUID();
  readonly received: readonly ReceivedFrame[] = [];
  private pending: { resolve: () => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | null = null;
  private settleClosed!: () => void;
  private readonly whenClosed = new Promise<void>((resolve) => (this.settleClosed = resolve));
  private open = false;
  private ended = false;

  constructor(
    private readonly callee: RegisteredCallee,
    readonly call: StreamCall,
  ) {}

  connect(url: string, callUuid: string, extraHeaders: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.ended) return reject(new Error('the answering tool is gone'));
      if (!this.callee.admit(this)) return reject(new Error(`the answering tool holds ${MAX_STREAMS_PER_CALLEE} streams already`));
      const timer = setTimeout(() => this.settle(new Error(`the answering tool did not open the stream within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      this.pending = { resolve, reject, timer };
      const { answerUrl, from, to, authId } = this.call;
      const headers = plivoSignatureHeaders(this.call.authToken, 'GET', url, new Map());
      this.callee.send({ type: 'stream', streamId: this.streamId, callUuid, url, headers, extraHeaders, answerUrl, from, to, accountId: authId });
    });
  }

  closeStream(): Promise<void> {
    if (this.open && !this.ended) {
      this.callee.send({ type: 'close', streamId: this.streamId });
      // A tool that does not say its stream closed must not hold the call's end (and its hangup_url) forever.
      const timer = setTimeout(() => this.end(), CLOSE_TIMEOUT_MS);
      void this.whenClosed.then(() => clearTimeout(timer));
    } else this.end();
    return this.whenClosed;
  }

  closed(): Promise<void> {
    return this.whenClosed;
  }

  /** The tool's report on this stream. */
  report(message: FromCallee): void {
    if (message.type === 'connected') {
      this.open = true;
      this.settle(null);
    } else if (message.type === 'failed') this.settle(new Error(message.message));
    else if (message.type === 'closed') this.end();
  }

  /** Closed: by the tool, or the tool gone. */
  end(): void {
    this.ended = true;
    this.settle(new Error('the answering tool is gone'));
    this.callee.forget(this);
    this.settleClosed();
  }

  private settle(err: Error | null): void {
    // A stream that did not open is not the tool's to hold (a retry takes it on again).
    if (err && !this.open) this.callee.forget(this);
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    clearTimeout(pending.timer);
    if (err) pending.reject(err);
    else pending.resolve();
  }
}

/** One registered tool: the number it answers and its streams. */
class RegisteredCallee {
  private readonly streams = new Map<string, ToolStream>();

  constructor(
    readonly number: string,
    private readonly ws: WebSocket,
    private readonly hangup: (callUuid: string) => void,
    private readonly log: Logger,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.onMessage(data, isBinary);
      } catch (err) {
        log.error('plivo emulator callee message failed', { err });
        ws.close(1011, 'internal error');
      }
    });
  }

  /** Takes `stream` on, unless this tool holds as many as it may. */
  admit(stream: ToolStream): boolean {
    if (this.streams.has(stream.streamId)) return true;
    if (this.streams.size >= MAX_STREAMS_PER_CALLEE) return false;
    this.streams.set(stream.streamId, stream);
    return true;
  }

  send(message: ToCallee): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  forget(stream: ToolStream): void {
    this.streams.delete(stream.streamId);
  }

  /** The tool is gone: its streams are too (they were its sockets). */
  gone(): void {
    for (const stream of [...this.streams.values()]) stream.end();
  }

  close(): void {
    this.ws.close(1001, 'the emulator is stopping');
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const message = isBinary ? null : fromCallee(data.toString('utf8'));
    if (message?.type === 'hangup') {
      // A tool hangs up the calls it answers, no other.
      if ([...this.streams.values()].some((stream) => stream.call.callUuid === message.callUuid)) this.hangup(message.callUuid);
      return;
    }
    const stream = message ? this.streams.get(message.streamId) : undefined;
    if (message && stream) return stream.report(message);
    this.log.warn('plivo emulator callee sent what it does not know', { number: this.number });
  }
}

/**
 * The registered tools of one emulator. Registration is for this laptop alone: the emulator listens on loopback, and
 * an upgrade naming another host, or sent by a browser (an `Origin`), is refused, so a web page cannot register.
 */
export class Callees {
  private readonly byNumber = new Map<string, RegisteredCallee>();
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });

  constructor(
    private readonly port: number,
    private readonly hangup: (callUuid: string) => void,
    private readonly log: Logger,
  ) {}

  /** A stream of `call` answered by the tool registered for its number; null when none is. */
  streamFor(call: StreamCall): CalleeStream | null {
    const callee = this.byNumber.get(calleeKey(call.to));
    return callee ? new ToolStream(callee, call) : null;
  }

  /** Whether a tool answers `number`. */
  answers(number: string): boolean {
    return this.byNumber.has(calleeKey(number));
  }

  /** `GET /callee?number=...` upgraded: registers the tool, or refuses it with why. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const [host, port] = splitHost(req.headers.host ?? '');
    if (url.pathname !== CALLEE_PATH) return refuse(socket, { status: 404, code: 'not_found', message: 'Not found' });
    if (!LOOPBACK_HOSTS.has(host) || port !== String(this.port) || req.headers.origin !== undefined) {
      return refuse(socket, { status: 403, code: 'forbidden', message: 'Callees register from this machine alone (loopback Host, no Origin)' });
    }
    const number = url.searchParams.get('number') ?? '';
    if (!/^\+?\d{3,16}$/.test(number)) return refuse(socket, { status: 400, code: 'bad_request', message: 'number must be a phone number (E.164: +14155550123)' });
    const key = calleeKey(number);
    if (this.byNumber.has(key)) return refuse(socket, { status: 409, code: 'conflict', message: `another tool answers ${number} already` });
    if (this.byNumber.size >= MAX_CALLEES) return refuse(socket, { status: 409, code: 'conflict', message: `at most ${MAX_CALLEES} tools may answer at once` });
    this.server.handleUpgrade(req, socket, head, (ws) => {
      try {
        this.register(ws, number);
      } catch (err) {
        this.log.error('plivo emulator callee registration failed', { number, err });
        ws.close(1011, 'internal error');
      }
    });
  }

  private register(ws: WebSocket, number: string): void {
    const key = calleeKey(number);
    // Taken meanwhile (two upgrades in the same tick): the later one goes.
    if (this.byNumber.has(key)) return ws.close(4009, `another tool answers ${number} already`);
    const callee = new RegisteredCallee(number, ws, this.hangup, this.log);
    this.byNumber.set(key, callee);
    ws.on('error', (err) => this.log.warn('plivo emulator callee socket failed', { number, err: err.message }));
    ws.once('close', () => {
      this.byNumber.delete(key);
      callee.gone();
      this.log.info('plivo emulator callee left', { number });
    });
    callee.send({ type: 'registered', number });
    this.log.info('plivo emulator callee registered', { number });
  }

  close(): void {
    for (const callee of this.byNumber.values()) callee.close();
    this.server.close();
  }
}

/** A tool's message, or null when it is none the emulator knows. */
function fromCallee(text: string): FromCallee | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, streamId, callUuid, message } = value as Record<string, unknown>;
  if (type === 'hangup') return typeof callUuid === 'string' ? { type, callUuid } : null;
  if (typeof streamId !== 'string') return null;
  if (type === 'connected' || type === 'closed') return { type, streamId };
  if (type === 'failed') return { type, streamId, message: typeof message === 'string' ? message.slice(0, 500) : 'the tool could not open the stream' };
  return null;
}

/** `127.0.0.1:8080` -> [`127.0.0.1`, `8080`]; `[::1]:8080` -> [`[::1]`, `8080`]. */
function splitHost(host: string): [string, string] {
  const colon = host.lastIndexOf(':');
  return colon < 0 || host.endsWith(']') ? [host.toLowerCase(), ''] : [host.slice(0, colon).toLowerCase(), host.slice(colon + 1)];
}
