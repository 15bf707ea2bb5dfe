import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { mulawDecode, mulawEncode } from '../ingest-container/src/audio/mulaw';
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
}

export interface ReceivedFrame {
  /** performance.now() at arrival. */
  readonly at: number;
  readonly mulaw: Uint8Array;
}

const FRAME_BYTES = 160;

const signedHeaders = (authToken: string | undefined, method: string, url: string, params: Map<string, string[]>): Record<string, string> =>
  authToken ? plivoSignatureHeaders(authToken, method, url, params) : {};

async function postForm(url: string, fields: Record<string, string>, authToken: string | undefined): Promise<{ status: number; body: string }> {
  const params = new Map(Object.entries(fields).map(([k, v]) => [k, [v]]));
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...signedHeaders(authToken, 'POST', url, params) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: await res.text() };
}

/** The stream URL in Plivo's `<Stream>` element (the element's text, XML-unescaped). */
export function streamUrlOf(xml: string): string | null {
  const match = /<Stream\b[^>]*>([^<]+)<\/Stream>/.exec(xml);
  return match?.[1]?.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'") ?? null;
}

export class SimulatedCall {
  readonly callUuid = randomUUID();
  readonly streamId = randomUUID();
  readonly received: ReceivedFrame[] = [];
  /** Every non-audio message the connector sent (checkpoint, clearAudio, sendDTMF ...). */
  readonly controls: Record<string, unknown>[] = [];
  answerMs = 0;
  private ws: WebSocket | null = null;
  private sequence = 0;
  private startedAt = 0;
  closeCode: number | null = null;
  closeReason = '';

  constructor(private readonly options: CallOptions) {}

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

  /** Posts the Answer URL and returns the stream URL; throws with the reply when there is none. */
  async answer(): Promise<string> {
    const started = performance.now();
    const reply = await postForm(this.options.answerUrl, this.fields, this.options.authToken);
    this.answerMs = performance.now() - started;
    const url = reply.status === 200 ? streamUrlOf(reply.body) : null;
    if (!url) throw new Error(`Answer URL replied ${reply.status}: ${reply.body}`);
    return url;
  }

  /** Opens the stream (as Plivo does: GET upgrade, V3-signed) and sends `start`. */
  async connect(streamUrl: string, callId: string = this.callUuid): Promise<void> {
    const ws = new WebSocket(streamUrl, { headers: signedHeaders(this.options.authToken, 'GET', streamUrl, new Map()) });
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.onMessage(data));
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`stream upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    this.startedAt = Date.now();
    this.send({
      event: 'start',
      sequenceNumber: ++this.sequence,
      start: { callId, streamId: this.streamId, accountId: 'MASIMULATOR', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 } },
      extra_headers: '',
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

  /** Ends the call as Plivo does: `stop`, close, then the hangup POST to the Answer URL. */
  async hangup(): Promise<void> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.send({ event: 'stop', sequenceNumber: ++this.sequence, streamId: this.streamId });
      const ws = this.ws;
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(1000);
      });
    }
    const duration = String(Math.round((Date.now() - this.startedAt) / 1000));
    await postForm(this.options.answerUrl, { ...this.fields, Event: 'Hangup', CallStatus: 'completed', Duration: duration, HangupCause: 'NORMAL_CLEARING' }, this.options.authToken);
  }

  /** Resolves when the connector closes the stream. */
  closed(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => ws.once('close', () => resolve()));
  }

  private onMessage(data: Buffer): void {
    const message = JSON.parse(data.toString('utf8')) as { event?: string; media?: { payload?: string } };
    if (message.event === 'playAudio' && message.media?.payload) {
      this.received.push({ at: performance.now(), mulaw: Buffer.from(message.media.payload, 'base64') });
    } else this.controls.push(message);
  }
}
