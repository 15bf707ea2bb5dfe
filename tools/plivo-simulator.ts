import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { mulawDecode, mulawEncode } from '../core/mulaw';
import { plivoSignatureHeaders } from '../core/plivo/signature';
import { paced } from './audio';

/**
 * Plivo, as the connector sees it: a signed Answer URL POST, the `<Stream>` XML, then the audio
 * WebSocket with `start`, real-time 20 ms mu-law `media` frames, DTMF, `stop` and the hangup POST.
 */
export interface CallOptions {
  readonly answerUrl: string;
  readonly from?: string;
  readonly to?: string;
  /** The connector's Plivo auth token: requests and the stream upgrade are V3-signed with it. */
  readonly authToken?: string;
  /** Custom SIP headers of the call, which Plivo posts to the Answer URL as `X-PH-<name>` fields. */
  readonly sipHeaders?: Readonly<Record<string, string>>;
  /** The Plivo account (auth id) named in the stream's `start`. @default MASIMULATOR */
  readonly accountId?: string;
  /** The stream's id in `start` and every message. @default a random UUID */
  readonly streamId?: string;
}

export interface ReceivedFrame {
  /** performance.now() at arrival. */
  readonly at: number;
  readonly mulaw: Uint8Array;
}

const FRAME_BYTES = 160;

const signedHeaders = (authToken: string | undefined, method: string, url: string, params: Map<string, string[]>): Record<string, string> =>
  authToken ? plivoSignatureHeaders(authToken, method, url, params) : {};

export interface CallbackOptions {
  /** Signs with V3 headers when set. */
  readonly authToken?: string;
  /** @default POST */
  readonly method?: 'GET' | 'POST';
  readonly signal?: AbortSignal;
}

/**
 * Sends Plivo's fields to `url` as Plivo calls a URL of the call: a form POST, or a GET with the fields added to the
 * query (`answer_method`, `aleg_method` ... GET); V3-signed when given the auth token.
 */
export async function plivoCallback(url: string, fields: Record<string, string>, options: CallbackOptions = {}): Promise<{ status: number; body: string }> {
  const { authToken, signal } = options;
  let res: Response;
  if (options.method === 'GET') {
    const target = new URL(url);
    for (const [key, value] of Object.entries(fields)) target.searchParams.append(key, value);
    res = await fetch(target, { headers: signedHeaders(authToken, 'GET', target.toString(), new Map()), signal });
  } else {
    const params = new Map(Object.entries(fields).map(([k, v]) => [k, [v]]));
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...signedHeaders(authToken, 'POST', url, params) },
      body: new URLSearchParams(fields).toString(),
      signal,
    });
  }
  return { status: res.status, body: await res.text() };
}

/** The stream URL in Plivo's `<Stream>` element (the element's text, XML-unescaped). */
export function streamUrlOf(xml: string): string | null {
  const match = /<Stream\b[^>]*>([^<]+)<\/Stream>/.exec(xml);
  return match?.[1]?.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'") ?? null;
}

/** What the Answer URL's refusals mean (lambdas/answer/app.ts, core/answer.ts): each comes with Plivo XML that hangs up. */
const ANSWER_REFUSALS: Readonly<Record<number, string>> = {
  200: 'the connector rejected the call (its routing, or the room)',
  400: 'no CallUUID, or a signed one that is not a UUID',
  403: "the signature was refused (--auth-token must be the connector's plivoAuthToken), or the source is outside PLIVO_SOURCE_RANGES",
  404: "no connector holds this Answer URL's webhook key",
  413: 'the request is too large',
  500: "the connector failed: see npm start's log",
  503: 'the store or KMS is unavailable',
};

/** Why the Answer URL streams no call, from its reply: a JSON error's message and code, or the Plivo XML's meaning. */
export function answerRefusal(status: number, body: string): string {
  try {
    const error = JSON.parse(body) as { message?: unknown; code?: unknown };
    if (typeof error.message === 'string') return typeof error.code === 'string' ? `${error.message} (${error.code})` : error.message;
  } catch {
    // Not JSON: Plivo XML.
  }
  const hangup = /<Hangup\b([^>]*)>/.exec(body);
  if (!hangup) return body.slice(0, 200) || 'an empty body';
  const reason = /\breason="([^"]*)"/.exec(hangup[1] ?? '')?.[1];
  const meaning = ANSWER_REFUSALS[status];
  return `Plivo XML that hangs up${reason ? ` (reason ${reason})` : ''}${meaning ? `: ${meaning}` : ''}`;
}

export class SimulatedCall {
  readonly callUuid = randomUUID();
  readonly streamId: string;
  readonly received: ReceivedFrame[] = [];
  /** Every non-audio message the connector sent (checkpoint, clearAudio, sendDTMF ...). */
  readonly controls: Record<string, unknown>[] = [];
  answerMs = 0;
  private ws: WebSocket | null = null;
  private sequence = 0;
  private startedAt = 0;
  closeCode: number | null = null;
  closeReason = '';

  constructor(private readonly options: CallOptions) {
    this.streamId = options.streamId ?? randomUUID();
  }

  get fields(): Record<string, string> {
    return {
      CallUUID: this.callUuid,
      From: this.options.from ?? '14155550100',
      To: this.options.to ?? '14155550199',
      Direction: 'inbound',
      CallStatus: 'ringing',
      Event: 'StartApp',
      ...Object.fromEntries(Object.entries(this.options.sipHeaders ?? {}).map(([name, value]) => [`X-PH-${name}`, value])),
    };
  }

  /** Posts the Answer URL and returns the stream URL; throws with the reply's reason when there is none. */
  async answer(): Promise<string> {
    const started = performance.now();
    const reply = await plivoCallback(this.options.answerUrl, this.fields, { authToken: this.options.authToken });
    this.answerMs = performance.now() - started;
    const url = reply.status === 200 ? streamUrlOf(reply.body) : null;
    if (!url) throw new Error(`Answer URL replied ${reply.status}: ${answerRefusal(reply.status, reply.body)}`);
    return url;
  }

  /**
   * Opens the stream (as Plivo does: GET upgrade, V3-signed) and sends `start`, with the `<Stream>`'s `extraHeaders`
   * (`;`-separated). `headers`: the upgrade's signature headers made elsewhere (the emulator's, for a tool that holds
   * no auth token); by default signed with `authToken`.
   */
  async connect(streamUrl: string, callId: string = this.callUuid, extraHeaders = '', headers = signedHeaders(this.options.authToken, 'GET', streamUrl, new Map())): Promise<void> {
    const ws = new WebSocket(streamUrl, { headers });
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (req, res) => {
        // Handled here, the refused handshake is ours to end (ws leaves it open).
        req.destroy();
        reject(new Error(`stream upgrade refused: ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
    this.startedAt = Date.now();
    this.send({
      event: 'start',
      sequenceNumber: ++this.sequence,
      start: { callId, streamId: this.streamId, accountId: this.options.accountId ?? 'MASIMULATOR', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 } },
      extra_headers: extraHeaders,
    });
  }

  /** Answers and connects: the whole of Plivo's side of a call starting. */
  async start(): Promise<void> {
    await this.connect(await this.answer());
  }

  send(message: object): void {
    this.ws?.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer): void {
    this.ws?.send(data);
  }

  /** Streams 8 kHz PCM as mu-law 20 ms frames at real time. */
  async play(pcm: Int16Array, onFrame?: (index: number, sentAt: number) => void): Promise<void> {
    const codes = mulawEncode(pcm);
    await this.playMulaw(Math.floor(codes.length / FRAME_BYTES), (i) => codes.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES), onFrame);
  }

  /** Sends `count` mu-law frames, `frameAt(i)` each, at real time (scheduled from the start, no drift). */
  async playMulaw(count: number, frameAt: (index: number) => Uint8Array, onFrame?: (index: number, sentAt: number) => void): Promise<void> {
    await paced(count, (i) => {
      if (this.ws?.readyState !== WebSocket.OPEN) return false;
      const payload = Buffer.from(frameAt(i)).toString('base64');
      onFrame?.(i, performance.now());
      this.send({ event: 'media', sequenceNumber: ++this.sequence, streamId: this.streamId, media: { track: 'inbound', timestamp: String(Date.now() - this.startedAt), chunk: i + 1, payload } });
      return true;
    });
  }

  sendDtmf(digit: string): void {
    this.send({ event: 'dtmf', sequenceNumber: ++this.sequence, streamId: this.streamId, dtmf: { track: 'inbound', digit, timestamp: String(Date.now() - this.startedAt) } });
  }

  /** What the connector played to this caller, as 8 kHz PCM. */
  receivedPcm(): Int16Array {
    const all = new Uint8Array(this.received.length * FRAME_BYTES);
    let offset = 0;
    for (const frame of this.received) {
      all.set(frame.mulaw, offset);
      offset += frame.mulaw.length;
    }
    return mulawDecode(all.subarray(0, offset));
  }

  /** What the connector played to this caller frame by frame, as 8 kHz PCM, with when each arrived (ms). */
  receivedFrames(): { at: number; pcm: Int16Array }[] {
    return this.received.map((frame) => ({ at: frame.at, pcm: mulawDecode(frame.mulaw) }));
  }

  /** Ends the stream as Plivo does: `stop`, then the close. */
  async closeStream(): Promise<void> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.send({ event: 'stop', sequenceNumber: ++this.sequence, streamId: this.streamId });
      const ws = this.ws;
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
      });
    }
  }

  /** Ends the call as Plivo does: the stream's `stop` and close, then the hangup POST to the Answer URL. */
  async hangup(): Promise<void> {
    await this.closeStream();
    const duration = String(Math.round((Date.now() - this.startedAt) / 1000));
    await plivoCallback(this.options.answerUrl, { ...this.fields, Event: 'Hangup', CallStatus: 'completed', Duration: duration, HangupCause: 'NORMAL_CLEARING' }, { authToken: this.options.authToken });
  }

  /** Resolves when the connector closes the stream. */
  closed(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => ws.once('close', () => resolve()));
  }

  private onMessage(data: Buffer): void {
    let message: { event?: string; media?: { payload?: string } };
    try {
      message = JSON.parse(data.toString('utf8')) as typeof message;
    } catch {
      // Not JSON: Plivo ignores it, and so does the simulator (it never crashes on what the connector sends).
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    if (message.event === 'playAudio' && message.media?.payload) {
      this.received.push({ at: performance.now(), mulaw: Buffer.from(message.media.payload, 'base64') });
    } else this.controls.push(message);
  }
}
