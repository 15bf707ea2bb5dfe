import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BoundedMap } from '../../core/bounded-map';
import type { Logger } from '../../core/log';
import { mulawEncode } from '../../core/mulaw';
import { tone } from '../../tools/audio';
import { plivoCallback, SimulatedCall } from '../../tools/plivo-simulator';
import { BodyTooLarge, readBody } from '../http-body';
import { CALLEE_PATH, Callees, type CalleeStream } from './answerers';
import { ANSWERS, calleeAt, type CalleeBehaviour } from './callee';
import { parsePlivoXml, type CallbackMethod, type DialInstruction, type Instruction, type StreamInstruction } from './xml';

/**
 * Plivo's Voice API on the laptop, written from its reference (docs/plivo-emulator.md; protocol reference sections
 * 2, 3, 6 and 7): Make Call, Hang up and Transfer under `/v1/Account/{authId}/Call/`, with Basic auth, and Plivo's
 * side of each call it places: `ring_url`, the signed `answer_url` request, the XML it answers (`<Stream>` opens the
 * stream WebSocket and plays the callee's audio; `<Dial>` rings a simulated far party and posts the dial callbacks
 * and `action`; `<Hangup>`), `ring_timeout`, `time_limit` and `hangup_url`. Where the reference is silent the
 * emulator chooses, and says so where it does.
 */
export type CallState = 'ringing' | 'answered' | 'ended';

/** How a call ended, in `hangup_url`'s fields. `status` is also the `DialStatus` of a dial ending so. */
export interface Ending {
  readonly status: 'completed' | 'busy' | 'no-answer' | 'failed' | 'timeout' | 'cancel';
  readonly cause: string;
  readonly causeName: string;
  readonly source: string;
}

/**
 * The reference names the fields and the `CallStatus` values; the causes, their names and the sources are the
 * emulator's choice, after the names Plivo's hangup-cause table uses.
 */
export const ENDINGS = {
  calleeHangup: { status: 'completed', cause: 'NORMAL_CLEARING', causeName: 'Normal Hangup', source: 'Callee' },
  api: { status: 'completed', cause: 'NORMAL_CLEARING', causeName: 'Normal Hangup', source: 'API Request' },
  cancel: { status: 'cancel', cause: 'ORIGINATOR_CANCEL', causeName: 'Cancelled', source: 'API Request' },
  hangupXml: { status: 'completed', cause: 'NORMAL_CLEARING', causeName: 'Normal Hangup', source: 'Answer XML' },
  endOfXml: { status: 'completed', cause: 'NORMAL_CLEARING', causeName: 'End Of XML Instructions', source: 'Plivo' },
  timeLimit: { status: 'completed', cause: 'ALLOTTED_TIMEOUT', causeName: 'Time Limit Reached', source: 'Plivo' },
  urlError: { status: 'completed', cause: 'NORMAL_CLEARING', causeName: 'Error Reaching Answer URL', source: 'Error' },
  invalidXml: { status: 'completed', cause: 'NORMAL_CLEARING', causeName: 'Invalid Answer XML', source: 'Error' },
  busy: { status: 'busy', cause: 'USER_BUSY', causeName: 'Busy Line', source: 'Callee' },
  noAnswer: { status: 'no-answer', cause: 'NO_ANSWER', causeName: 'No Answer', source: 'Callee' },
  ringTimeout: { status: 'timeout', cause: 'NO_ANSWER', causeName: 'Ring Timeout Reached', source: 'Plivo' },
  invalidNumber: { status: 'failed', cause: 'UNALLOCATED_NUMBER', causeName: 'Invalid Destination Address', source: 'Plivo' },
} as const satisfies Record<string, Ending>;

/** One request the emulator received, for tests to assert on (`saw the DELETE`). */
export interface EmulatorRequest {
  readonly method: string;
  readonly path: string;
  /** The Basic auth user, whether or not it was accepted. */
  readonly authId: string | null;
  readonly body: Record<string, unknown> | null;
  readonly at: number;
}

/** A call the emulator placed, as tests see it. */
export interface EmulatedCall {
  readonly requestUuid: string;
  readonly callUuid: string;
  readonly authId: string;
  readonly from: string;
  readonly to: string;
  readonly state: CallState;
  readonly ending: Ending | null;
  /**
   * Each stream the call opened, in order; `received` holds what the connector played to the callee (empty when a
   * tool registered for the number answered it: the tool records it).
   */
  readonly streams: readonly CalleeStream[];
}

export interface PlivoEmulatorOptions {
  readonly log: Logger;
  /**
   * The auth token of an account by its auth id (undefined: no such account), asked on every request: `npm start`
   * finds the connector holding that `plivoAuthId` and decrypts its `plivoAuthToken`; tests name their own accounts.
   */
  readonly authTokenOf: (authId: string) => Promise<string | undefined> | string | undefined;
}

/** The callee plays this tone into every stream (the simulator's caller plays 440 Hz too). */
export const CALLEE_TONE_HZ = 440;

/** Plivo waits at most ~15 s for the XML (reference section 1); the emulator gives every callback as long. */
const CALLBACK_TIMEOUT_MS = 15_000;
/** Make Call's `time_limit` default (reference section 7). */
const DEFAULT_TIME_LIMIT_SECONDS = 14_400;
/** `ring_timeout`'s default is not in the reference: Plivo's API reference says 60 s. */
const DEFAULT_RING_TIMEOUT_SECONDS = 60;
/** From the 201 to the `ring_url` request: the emulator's choice. */
const RING_AFTER_MS = 50;
/** Plivo retries a failed stream connect twice more (reference section 3); the pause between is the emulator's. */
const STREAM_ATTEMPTS = 3;
const STREAM_RETRY_MS = 200;
/** More transfers than this and Plivo hangs up ("Loop detected", reference section 7). */
const MAX_TRANSFERS = 70;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_RECORDED_REQUESTS = 1000;
const MAX_CALLS = 10_000;
const FRAME_BYTES = 160;
const FRAMES_PER_SECOND = 50;

class PlivoFault extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface CallParams {
  readonly answerUrl: string;
  readonly answerMethod: CallbackMethod;
  readonly ringUrl: string | null;
  readonly ringMethod: CallbackMethod;
  readonly hangupUrl: string;
  readonly hangupMethod: CallbackMethod;
  readonly ringTimeoutMs: number;
  readonly timeLimitMs: number;
}

class Call implements EmulatedCall {
  readonly requestUuid = randomUUID();
  readonly callUuid = randomUUID();
  state: CallState = 'ringing';
  ending: Ending | null = null;
  readonly streams: CalleeStream[] = [];
  /** Each stream's StopStream report, sent once it closes: the hangup waits for them, as the stream ends first. */
  readonly streamsStopped: Promise<unknown>[] = [];
  /** Posts a status of the stream open now to its `statusCallbackUrl`; null while none is open. */
  reportStream: ((event: string) => Promise<unknown>) | null = null;
  readonly startedAt = new Date();
  answeredAt: Date | null = null;
  /** The XML the call runs now (or its ringing): aborted when the call ends or is transferred. */
  run = new AbortController();
  transfers = 0;
  readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly authId: string,
    readonly authToken: string,
    readonly from: string,
    readonly to: string,
    readonly params: CallParams,
  ) {}

  /** The fields every request about this call carries. */
  get fields(): Record<string, string> {
    return { CallUUID: this.callUuid, RequestUUID: this.requestUuid, From: this.from, To: this.to, Direction: 'outbound' };
  }

  after(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }
}

const plivoTime = (date: Date): string => date.toISOString().slice(0, 19).replace('T', ' ');
const isAbort = (err: unknown): boolean => (err as Error | null)?.name === 'AbortError';

/** Resolves when `signal` aborts. */
const aborted = (signal: AbortSignal): Promise<void> =>
  signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

/** Rings the far end: null when it answers, else how the attempt ended. Rejects (AbortError) when `signal` aborts. */
async function ring(callee: CalleeBehaviour, timeoutMs: number, signal: AbortSignal): Promise<Ending | null> {
  const refusal = { busy: ENDINGS.busy, 'no-answer': ENDINGS.noAnswer, invalid: ENDINGS.invalidNumber, ring: null, answer: null }[callee.kind];
  if ((callee.kind === 'answer' || refusal) && callee.afterMs < timeoutMs) {
    await sleep(callee.afterMs, undefined, { signal });
    return refusal;
  }
  await sleep(timeoutMs, undefined, { signal });
  return ENDINGS.ringTimeout;
}

/** The user and password of a Basic `authorization` header. */
function basicAuth(req: IncomingMessage): { user: string; password: string } | null {
  const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const URL_FIELDS = ['answer_url', 'ring_url', 'hangup_url', 'aleg_url'] as const;

function text(body: Record<string, unknown>, field: string, required: boolean): string | null {
  const value = body[field];
  if (value === undefined || value === null || value === '') {
    if (required) throw new PlivoFault(400, `${field} is required`);
    return null;
  }
  if (typeof value !== 'string') throw new PlivoFault(400, `${field} must be a string`);
  if ((URL_FIELDS as readonly string[]).includes(field) && !/^https?:\/\/[^/]/i.test(value)) throw new PlivoFault(400, `${field} must be an http(s) URL`);
  return value;
}

function methodOf(body: Record<string, unknown>, field: string): CallbackMethod {
  const value = text(body, field, false)?.toUpperCase() ?? 'POST';
  if (value !== 'GET' && value !== 'POST') throw new PlivoFault(400, `${field} must be GET or POST`);
  return value;
}

function seconds(body: Record<string, unknown>, field: string, fallback: number): number {
  const value = body[field];
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new PlivoFault(400, `${field} must be a whole number of seconds from 1`);
  return n;
}

export class PlivoEmulator {
  /** Every request received, oldest first (the last 1000). */
  readonly requests: EmulatorRequest[] = [];
  private readonly calls = new BoundedMap<string, Call>(MAX_CALLS);
  private readonly calleeFrames: Uint8Array;
  /** The tools answering calls to their numbers (`npm run call -- --answer`), registered on this port. */
  private readonly callees: Callees;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    port: number,
    private readonly options: PlivoEmulatorOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.calleeFrames = mulawEncode(tone(CALLEE_TONE_HZ, 1));
    this.callees = new Callees(port, (callUuid) => this.calleeHungUp(callUuid), options.log);
  }

  readonly url: string;

  /** Where a tool registers to answer calls to its number (`npm run call -- --answer`): loopback only. */
  get calleesUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}${CALLEE_PATH}`;
  }

  /** Serves on a free loopback port. */
  static async start(options: PlivoEmulatorOptions): Promise<PlivoEmulator> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const emulator = new PlivoEmulator(server, (server.address() as AddressInfo).port, options);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void emulator.handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        emulator.callees.upgrade(req, socket, head);
      } catch (err) {
        options.log.error('plivo emulator callee upgrade failed', { err });
        socket.destroy();
      }
    });
    return emulator;
  }

  /** A call by its CallUUID. */
  call(callUuid: string): EmulatedCall | undefined {
    return this.calls.get(callUuid);
  }

  /**
   * Plivo's DegradedStream for the call's open stream, as Plivo posts it when the connector reads too slowly (its
   * 40 s buffer 30, 60 or 90 % full): the emulator never finds the connector slow, so tests say when. Resolves with
   * the connector's answer; false when the call has no open stream or its `<Stream>` named no `statusCallbackUrl`.
   */
  async degrade(callUuid: string): Promise<boolean> {
    const report = this.calls.get(callUuid)?.reportStream;
    return report ? (await report('DegradedStream')) !== null : false;
  }

  /** Stops serving; live calls stop where they are (streams closed, no more callbacks). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const live = [...this.calls.values()].filter((call) => call.state !== 'ended');
      for (const call of live) this.stop(call);
      await Promise.all(live.flatMap((call) => call.streams.map((stream) => stream.closeStream())));
      this.callees.close();
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body?: Record<string, unknown>) => {
      if (res.headersSent) return;
      res.writeHead(status, body ? { 'content-type': 'application/json' } : {}).end(body && JSON.stringify({ api_id: randomUUID(), ...body }));
    };
    try {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const authId = basicAuth(req)?.user ?? null;
      let body: Record<string, unknown> | null = null;
      try {
        body = this.parseBody(req, await readBody(req, MAX_BODY_BYTES));
      } finally {
        this.record({ method: req.method ?? '', path, authId, body, at: Date.now() });
      }
      const request = /^\/v1\/Account\/([^/]+)\/Request\/([^/]+)\/$/.exec(path);
      if (request && req.method === 'DELETE') {
        const account = decodeURIComponent(request[1] as string);
        await this.authenticate(req, account);
        const requestUuid = decodeURIComponent(request[2] as string);
        return reply(this.cancel(account, [...this.calls.values()].find((call) => call.requestUuid === requestUuid)));
      }
      const match = /^\/v1\/Account\/([^/]+)\/Call\/(?:([^/]+)\/)?$/.exec(path);
      if (!match) throw new PlivoFault(404, 'not found');
      const account = decodeURIComponent(match[1] as string);
      const token = await this.authenticate(req, account);
      const callUuid = match[2] === undefined ? null : decodeURIComponent(match[2]);
      if (callUuid === null && req.method === 'POST') return reply(201, this.makeCall({ authId: account, authToken: token }, body ?? {}));
      const call = callUuid === null ? undefined : this.calls.get(callUuid);
      if (callUuid !== null && req.method === 'DELETE') return reply(this.hangup(account, call));
      if (callUuid !== null && req.method === 'POST') return reply(202, this.transfer(account, call, body ?? {}));
      throw new PlivoFault(405, `${req.method ?? ''} is not allowed here`);
    } catch (err) {
      if (err instanceof PlivoFault) return reply(err.status, { error: err.message });
      if (err instanceof BodyTooLarge) return reply(413, { error: 'request body too large' });
      this.options.log.error('plivo emulator request failed', { err });
      reply(500, { error: 'internal error' });
    }
  }

  private record(request: EmulatorRequest): void {
    this.requests.push(request);
    if (this.requests.length > MAX_RECORDED_REQUESTS) this.requests.shift();
  }

  /** Basic auth of the path's account with its token; the wording of the 401 is the emulator's. */
  private async authenticate(req: IncomingMessage, account: string): Promise<string> {
    const given = basicAuth(req);
    const token = await this.options.authTokenOf(account);
    if (token === undefined || given?.user !== account || given.password !== token) throw new PlivoFault(401, 'Authentication failed: unknown auth id or wrong auth token');
    return token;
  }

  private parseBody(req: IncomingMessage, raw: Buffer): Record<string, unknown> | null {
    if (raw.length === 0) return null;
    const type = req.headers['content-type'] ?? '';
    if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new PlivoFault(400, 'body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new PlivoFault(400, 'body must be a JSON object');
    return parsed as Record<string, unknown>;
  }

  private makeCall(account: { authId: string; authToken: string }, body: Record<string, unknown>): Record<string, unknown> {
    const from = text(body, 'from', true) as string;
    const to = text(body, 'to', true) as string;
    // Plivo rings several destinations joined by `<`; the emulator places one call per request (its choice).
    if (to.includes('<')) throw new PlivoFault(400, 'the emulator places one destination per call: to must not hold "<"');
    if (!/^\+?\d{3,16}$/.test(to) && !/^sip:\S+$/.test(to)) throw new PlivoFault(400, 'to must be a phone number or a sip: URI');
    const answerUrl = text(body, 'answer_url', true) as string;
    const answerMethod = methodOf(body, 'answer_method');
    const params: CallParams = {
      answerUrl,
      answerMethod,
      ringUrl: text(body, 'ring_url', false),
      ringMethod: methodOf(body, 'ring_method'),
      // Without hangup_url the hangup goes to the answer URL, as an application's does (reference section 1).
      hangupUrl: text(body, 'hangup_url', false) ?? answerUrl,
      hangupMethod: body.hangup_url ? methodOf(body, 'hangup_method') : answerMethod,
      ringTimeoutMs: seconds(body, 'ring_timeout', DEFAULT_RING_TIMEOUT_SECONDS) * 1000,
      timeLimitMs: seconds(body, 'time_limit', DEFAULT_TIME_LIMIT_SECONDS) * 1000,
    };
    const call = new Call(account.authId, account.authToken, from, to, params);
    this.calls.set(call.callUuid, call);
    void this.place(call);
    return { message: 'call fired', request_uuid: call.requestUuid };
  }

  private hangup(authId: string, call: Call | undefined): number {
    if (!call || call.authId !== authId || call.state === 'ended') throw new PlivoFault(404, 'call not found');
    // Hanging up a call that still rings cancels it.
    this.finish(call, call.state === 'ringing' ? ENDINGS.cancel : ENDINGS.api);
    return 204;
  }

  /** Cancels a placed call that has not connected (Plivo's `DELETE Request/{request_uuid}/`): 404 once it has. */
  private cancel(authId: string, call: Call | undefined): number {
    if (!call || call.authId !== authId || call.state !== 'ringing') throw new PlivoFault(404, 'request not found');
    this.finish(call, ENDINGS.cancel);
    return 204;
  }

  private transfer(authId: string, call: Call | undefined, body: Record<string, unknown>): Record<string, unknown> {
    if (!call || call.authId !== authId || call.state === 'ended') throw new PlivoFault(404, 'call not found');
    // The connector transfers the caller's leg alone; the B leg (`bleg`, `both`) is not emulated.
    if (body.legs !== 'aleg') throw new PlivoFault(400, 'the emulator transfers legs "aleg" only');
    const url = text(body, 'aleg_url', true) as string;
    const method = methodOf(body, 'aleg_method');
    // A call still ringing has no XML to replace: the emulator refuses it (the reference does not say).
    if (call.state !== 'answered') throw new PlivoFault(400, 'the call is not answered');
    void this.redirect(call, url, method);
    return { message: 'call transferred' };
  }

  /** Plivo's side of a placed call: rings, then the callee answers (or not) and the answer XML runs. */
  private async place(call: Call): Promise<void> {
    const signal = call.run.signal;
    try {
      await sleep(RING_AFTER_MS, undefined, { signal });
      if (call.params.ringUrl) await this.callback(call, call.params.ringUrl, call.params.ringMethod, { ...call.fields, CallStatus: 'ringing', Event: 'Ring' });
      const callee = this.calleeAt(call.to);
      const refused = await ring(callee, call.params.ringTimeoutMs, signal);
      if (refused) return await this.end(call, refused);
      call.state = 'answered';
      call.answeredAt = new Date();
      call.after(call.params.timeLimitMs, () => this.finish(call, ENDINGS.timeLimit));
      if (callee.hangUpAfterMs !== null) call.after(callee.hangUpAfterMs, () => this.finish(call, ENDINGS.calleeHangup));
      const reply = await this.callback(call, call.params.answerUrl, call.params.answerMethod, { ...call.fields, CallStatus: 'in-progress', Event: 'StartApp' });
      await this.runReply(call, reply, signal);
    } catch (err) {
      if (!isAbort(err)) this.options.log.error('plivo emulator call failed', { callUuid: call.callUuid, err });
    }
  }

  /** Transfer: the XML running now stops (its stream closes) and the URL's XML runs instead. */
  private async redirect(call: Call, url: string, method: CallbackMethod): Promise<void> {
    call.run.abort();
    const run = (call.run = new AbortController());
    try {
      if (++call.transfers > MAX_TRANSFERS) return await this.end(call, { ...ENDINGS.endOfXml, causeName: 'Loop detected' });
      await Promise.all(call.streams.map((stream) => stream.closeStream()));
      const reply = await this.callback(call, url, method, { ...call.fields, CallStatus: 'in-progress', Event: 'Transfer' });
      await this.runReply(call, reply, run.signal);
    } catch (err) {
      if (!isAbort(err)) this.options.log.error('plivo emulator transfer failed', { callUuid: call.callUuid, err });
    }
  }

  /** Runs the XML a callback answered; a failed request or what is not Plivo XML ends the call. */
  private async runReply(call: Call, reply: { status: number; body: string } | null, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    if (!reply || reply.status < 200 || reply.status > 299) return this.end(call, ENDINGS.urlError);
    const steps = parsePlivoXml(reply.body);
    if (!steps) return this.end(call, ENDINGS.invalidXml);
    await this.run(call, steps, signal);
  }

  /** Runs the steps in order; when they are done (and nothing replaced them) Plivo hangs up. */
  private async run(call: Call, steps: readonly Instruction[], signal: AbortSignal): Promise<void> {
    for (const step of steps) {
      if (signal.aborted) return;
      if (step.verb === 'Hangup') return this.end(call, ENDINGS.hangupXml);
      if (step.verb === 'Stream') await this.stream(call, step, signal);
      else if (!(await this.dial(call, step, signal))) return;
    }
    if (!signal.aborted) await this.end(call, ENDINGS.endOfXml);
  }

  /**
   * Opens the stream as Plivo does (SimulatedCall: the signed upgrade, `start`, real-time `media` of the callee's
   * audio) and reports StartStream / StopStream / DroppedStream to `statusCallbackUrl`. With `keepCallAlive` the next
   * step waits until the stream ends; without, it runs at once.
   */
  private async stream(call: Call, step: StreamInstruction, signal: AbortSignal): Promise<void> {
    const { answerUrl } = call.params;
    const tool = this.callees.streamFor({ callUuid: call.callUuid, authId: call.authId, authToken: call.authToken, answerUrl, from: call.from, to: call.to });
    const stream = tool ?? new SimulatedCall({ answerUrl, from: call.from, to: call.to, authToken: call.authToken, accountId: call.authId });
    const status = (event: string) =>
      step.statusCallbackUrl
        ? this.callback(call, step.statusCallbackUrl, step.statusCallbackMethod, { ...call.fields, Event: event, StreamID: stream.streamId, Timestamp: plivoTime(new Date()) })
        : Promise.resolve(null);
    let connected = false;
    for (let attempt = 1; attempt <= STREAM_ATTEMPTS && !connected && !signal.aborted; attempt++) {
      try {
        await stream.connect(step.url, call.callUuid, step.extraHeaders);
        connected = true;
      } catch (err) {
        this.options.log.info('plivo emulator stream connect failed', { callUuid: call.callUuid, attempt, err: (err as Error).message });
        if (attempt < STREAM_ATTEMPTS) await sleep(STREAM_RETRY_MS, undefined, { signal });
      }
    }
    if (!connected) {
      await status('DroppedStream');
      return;
    }
    call.streams.push(stream);
    // Ended or transferred while connecting: the stream closes at once, as `end` and `redirect` close the others.
    if (signal.aborted || call.state === 'ended') return stream.closeStream();
    await status('StartStream');
    if (step.statusCallbackUrl) call.reportStream = status;
    const { degradeEveryMs } = this.calleeAt(call.to);
    if (degradeEveryMs !== null) for (const n of [1, 2, 3]) call.after(n * degradeEveryMs, () => void this.degrade(call.callUuid));
    call.streamsStopped.push(
      stream.closed().then(() => {
        if (call.reportStream === status) call.reportStream = null;
        return status('StopStream');
      }),
    );
    // A tool's stream speaks the tool's audio; the emulator's own callee plays its tone.
    if (stream instanceof SimulatedCall) this.speak(call, stream);
    if (step.keepCallAlive) await Promise.race([stream.closed(), aborted(signal)]);
  }

  /** The emulator's callee: its tone into the stream, in real time, until the stream closes or `time_limit`. */
  private speak(call: Call, stream: SimulatedCall): void {
    const frames = this.calleeFrames;
    const count = Math.floor(frames.length / FRAME_BYTES);
    stream
      .playMulaw(Math.ceil((call.params.timeLimitMs / 1000) * FRAMES_PER_SECOND), (i) => frames.subarray((i % count) * FRAME_BYTES, ((i % count) + 1) * FRAME_BYTES))
      .catch((err: unknown) => this.options.log.error('plivo emulator stream audio failed', { callUuid: call.callUuid, err }));
  }

  /** The far end at `number`: a registered tool answers as the default callee does, whatever the number's digits. */
  private calleeAt(number: string): CalleeBehaviour {
    return this.callees.answers(number) ? ANSWERS : calleeAt(number);
  }

  /** A registered tool hung up a call it answers. */
  private calleeHungUp(callUuid: string): void {
    const call = this.calls.get(callUuid);
    if (call?.state === 'answered') this.finish(call, ENDINGS.calleeHangup);
  }

  /**
   * Rings the first `<Number>` or `<User>` (several ring at once at Plivo; the emulator dials the first alone), posts
   * `callbackUrl` with DialAction answer and hangup, then `action` with DialStatus, whose XML replaces the rest of the
   * document. False when the document must stop here (replaced, or the call ended or was transferred); true to run on.
   */
  private async dial(call: Call, step: DialInstruction, signal: AbortSignal): Promise<boolean> {
    const target = step.targets[0];
    // A Dial with nothing to dial is skipped (the emulator's choice).
    if (!target) return true;
    const callee = target.kind === 'User' ? ANSWERS : calleeAt(target.value);
    const dialFields = { ...call.fields, DialALegUUID: call.callUuid, DialBLegUUID: randomUUID(), DialBLegTo: target.value, DialBLegFrom: call.from };
    const dialCallback = (fields: Record<string, string>) => (step.callbackUrl ? this.callback(call, step.callbackUrl, step.callbackMethod, { ...dialFields, ...fields }) : Promise.resolve(null));
    let outcome: Ending;
    try {
      const refused = await ring(callee, step.timeoutSeconds * 1000, signal);
      outcome = refused ?? ENDINGS.calleeHangup;
      if (!refused) {
        await dialCallback({ DialAction: 'answer', DialBLegStatus: 'answer' });
        const bridged = Date.now();
        try {
          if (callee.hangUpAfterMs === null) await aborted(signal);
          else await sleep(callee.hangUpAfterMs, undefined, { signal });
        } finally {
          // The B leg ends with the A leg too (hung up or transferred); only then is no `action` posted.
          const duration = String(Math.ceil((Date.now() - bridged) / 1000));
          await dialCallback({ DialAction: 'hangup', DialBLegStatus: 'hangup', DialBLegHangupCause: 'NORMAL_CLEARING', DialBLegDuration: duration, DialBLegBillDuration: duration });
        }
      }
    } catch (err) {
      if (isAbort(err)) return false;
      throw err;
    }
    if (signal.aborted) return false;
    if (!step.action) return true;
    const reply = await this.callback(call, step.action, step.method, { ...dialFields, DialStatus: outcome.status, DialHangupCause: outcome.cause });
    await this.runReply(call, reply, signal);
    return false;
  }

  /** Stops the call's XML, timers and streams, without telling anyone. */
  private stop(call: Call): void {
    call.state = 'ended';
    call.run.abort();
    for (const timer of call.timers) clearTimeout(timer);
    call.timers.clear();
  }

  /** Ends the call from a timer or a request: never a rejection left unhandled. */
  private finish(call: Call, ending: Ending): void {
    this.end(call, ending).catch((err: unknown) => this.options.log.error('plivo emulator hangup failed', { callUuid: call.callUuid, err }));
  }

  /** Ends the call once: its stream closes, then `hangup_url` gets Plivo's fields. */
  private async end(call: Call, ending: Ending): Promise<void> {
    if (call.state === 'ended') return;
    const answeredAt = call.answeredAt;
    const endedAt = new Date();
    this.stop(call);
    call.ending = ending;
    await Promise.all(call.streams.map((stream) => stream.closeStream()));
    await Promise.all(call.streamsStopped);
    const talkedMs = answeredAt ? endedAt.getTime() - answeredAt.getTime() : 0;
    const duration = Math.round(talkedMs / 1000);
    // Billed by the started minute (the emulator's choice: Plivo's increments vary by destination).
    const billed = Math.ceil(talkedMs / 60_000) * 60;
    await this.callback(call, call.params.hangupUrl, call.params.hangupMethod, {
      ...call.fields,
      Event: 'Hangup',
      CallStatus: ending.status,
      HangupCause: ending.cause,
      HangupCauseName: ending.causeName,
      HangupSource: ending.source,
      Duration: String(duration),
      BillDuration: String(billed),
      StartTime: plivoTime(call.startedAt),
      ...(answeredAt && { AnswerTime: plivoTime(answeredAt) }),
      EndTime: plivoTime(endedAt),
    });
  }

  /** A signed request about the call; null when it failed (logged), never a throw. */
  private async callback(call: Call, url: string, method: CallbackMethod, fields: Record<string, string>): Promise<{ status: number; body: string } | null> {
    if (this.closing) return null;
    try {
      return await plivoCallback(url, fields, { authToken: call.authToken, method, signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS) });
    } catch (err) {
      this.options.log.warn('plivo emulator callback failed', { callUuid: call.callUuid, url, err: (err as Error).message });
      return null;
    }
  }
}
