/**
 * One room-protocol connection (docs/room-protocol.md) at 48 kHz: the room through an AudioWorklet to the speakers,
 * the microphone (unless listen-only) to the room, participants, their levels and frame counts as events.
 */
import { ApiError, request, type Credentials } from './api';

const RATE = 48000;

export interface RoomParticipant {
  id: string;
  kind: string;
  phone?: { from: string; to: string; callId?: string };
}

/** A participant's frame counts since it joined (a `quality` event's entry). */
export interface FrameCounts {
  framesIn: number;
  framesOut: number;
  droppedOut: number;
  underruns: number;
  droppedIn: number;
}

export type RoomEvent =
  | { type: 'joined'; participantId: string; roomId: string; participants: RoomParticipant[] }
  | { type: 'participant-joined'; participant: RoomParticipant }
  | { type: 'participant-left'; participantId: string; reason: string }
  | { type: 'levels'; levels: Record<string, number> }
  | { type: 'quality'; quality: Record<string, FrameCounts> }
  | { type: 'dtmf'; participantId: string; digit: string }
  | { type: 'checkpoint-played'; name: string }
  | { type: 'error'; message: string; code?: string };

export interface RoomHandlers {
  event(event: RoomEvent): void;
  /** The microphone's peak (0-1) each 20 ms. */
  level(peak: number): void;
  /** The connection ended: `why` says how (the close code and reason, or the refusal). */
  closed(why: string): void;
}

/** What a close code means to an operator, beside the server's reason. */
function describeClose(code: number, reason: string, opened: boolean): string {
  if (!opened) {
    // A refused upgrade's status and {message, code} never reach a page: the browser reports 1006 alone.
    return 'The media server refused the join (the browser does not show why): check the room id, that the room is active and the token';
  }
  return `Disconnected: close ${code}${reason ? ` ${reason}` : ''}${code === 1006 ? ' (the connection dropped without a close)' : ''}`;
}

/** A deactivated room refuses joins (`403 room_deactivated`); a room never created is created on first use. */
async function refuseDeactivated(credentials: Credentials, roomId: string): Promise<void> {
  let room: { disabled: boolean };
  try {
    room = await request<{ disabled: boolean }>(credentials, 'GET', `/v2/rooms/validate/${encodeURIComponent(roomId)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return;
    throw err;
  }
  if (room.disabled) throw new ApiError(403, `Room ${roomId} was deactivated: it cannot be joined again`, 'room_deactivated');
}

export class RoomConnection {
  private ws: WebSocket | null = null;
  private context: AudioContext | null = null;
  private stream: MediaStream | null = null;
  /** For tests and the curious: what the page hears (`window.roomConsole`). */
  analyser: AnalyserNode | null = null;
  muted = false;

  constructor(private readonly handlers: RoomHandlers) {}

  /** Joins `roomId` with a participant token minted for it (the management token never goes into a URL). */
  async join(credentials: Credentials, mediaUrl: string, roomId: string, microphone: boolean): Promise<void> {
    const room = encodeURIComponent(roomId);
    // A refused upgrade reaches the page as a bare 1006: what the media server would refuse for, the API says first.
    await refuseDeactivated(credentials, roomId);
    const minted = await request<{ data: { token: string } }>(credentials, 'POST', `/v2/rooms/${room}/tokens`, { ttlSeconds: 3600 });
    const context = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
    this.context = context; // released by leave() if anything below fails
    await context.audioWorklet.addModule('/console/audio-worklet.js');
    const node = new AudioWorkletNode(context, 'room-io', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
    if (microphone) {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
      context.createMediaStreamSource(this.stream).connect(node);
    }
    const analyser = context.createAnalyser();
    analyser.fftSize = 4096;
    node.connect(analyser).connect(context.destination);
    this.analyser = analyser;
    await context.resume();

    const query = new URLSearchParams({ sampleRate: String(RATE), levels: '1', token: minted.data.token });
    const ws = new WebSocket(`${mediaUrl}/rooms/${room}?${query}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    node.port.onmessage = ({ data }: MessageEvent<{ frame: ArrayBuffer; peak: number }>) => {
      this.handlers.level(this.muted ? 0 : data.peak);
      if (ws.readyState === WebSocket.OPEN && !this.muted) ws.send(data.frame);
    };
    ws.onmessage = ({ data }: MessageEvent<string | ArrayBuffer>) => {
      if (typeof data === 'string') this.handlers.event(JSON.parse(data) as RoomEvent);
      else node.port.postMessage(new Int16Array(data), [data]);
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => {
        opened = true;
        resolve();
      };
      ws.onclose = (event) => {
        const why = describeClose(event.code, event.reason, opened);
        if (!opened) reject(new Error(why));
        else if (this.ws === ws) {
          this.release();
          this.handlers.closed(why);
        }
      };
    });
  }

  send(message: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    this.send({ type: muted ? 'mute' : 'unmute' });
  }

  /** Leaves the room (close 1000) and releases the microphone and the audio context; safe to call twice. */
  leave(): void {
    this.ws?.close(1000);
    this.release();
  }

  private release(): void {
    this.ws = null;
    this.stream?.getTracks().forEach((track) => track.stop());
    void this.context?.close();
    this.stream = null;
    this.context = null;
    this.analyser = null;
  }

  /** The audio context, for the analyser's sample rate. */
  get sampleRate(): number {
    return this.context?.sampleRate ?? RATE;
  }
}
