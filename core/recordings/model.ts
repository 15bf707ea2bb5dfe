/**
 * Recordings (issue 20): a room's mix, or one phone call's two sides, written by the media server holding the room as
 * WAV PCM16 to its media region's bucket. Audio goes up as it is recorded, in segments of at most the media server's
 * RECORDING_SEGMENT_SECONDS (objects under `segmentPrefix(key)`, in `segmentCodec(format)`), so a task that dies loses
 * at most one segment; when the recording stops the segments are assembled into one WAV object at `key` and deleted
 * (core/recordings/objects.ts), by the media server, or by the sweeper for a server that died (then the recording ends
 * `partial`).
 */
export const RECORDING_STATUSES = ['recording', 'completed', 'partial', 'failed'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

/** `room`: the room's mix (everyone), mono. `call`: one phone call, left what the caller said, right what it heard. */
export const RECORDING_KINDS = ['room', 'call'] as const;
export type RecordingKind = (typeof RECORDING_KINDS)[number];

/**
 * Segments are uploaded at least this often (seconds of audio: the media server's RECORDING_SEGMENT_SECONDS, 1-25), so
 * a crash loses at most this much, under the 30 s recordings promise. 20 s: a call's 8 kHz stereo segment is 320 KB of
 * mu-law, a request to S3 per 20 s of each recording.
 */
export const SEGMENT_SECONDS = { default: 20, min: 1, max: 25 } as const;

export interface RecordingFormat {
  readonly format: 'wav';
  /** 1 for a room, 2 for a call. */
  readonly channels: 1 | 2;
  /** A call's rate; a room's mix rate as the recording started. */
  readonly sampleRate: number;
}

export interface Recording {
  readonly tenant: string;
  /** `rec_…`: time-ordered by creation, unguessable. */
  readonly id: string;
  readonly kind: RecordingKind;
  /** The room record's `roomId` and `customRoomId`. */
  readonly roomId: string;
  readonly customRoomId: string | null;
  readonly sessionId: string;
  /** The call's id (`call_…`) for a call recording; null for a room's. */
  readonly callId: string | null;
  readonly status: RecordingStatus;
  /** When its audio began (the WAV's first sample), ISO. */
  readonly start: string;
  readonly end: string | null;
  /** Why it failed or is partial (e.g. `media server stopped`), never a secret; null otherwise. */
  readonly reason: string | null;
  readonly format: RecordingFormat;
  /** Where the audio is: the media region's bucket (its AWS region), the WAV's key. */
  readonly region: string;
  readonly awsRegion: string;
  readonly bucket: string;
  readonly key: string;
  /** The media server writing it: the sweeper finishes the recordings of a server that died. */
  readonly serverId: string;
  /** Its own webhook (`POST /v2/recordings/start {webhookUrl}`), also told its events; null when none. */
  readonly webhookUrl: string | null;
  /** Bytes of the WAV object and seconds of audio, once assembled; null while recording or when nothing survived. */
  readonly size: number | null;
  readonly duration: number | null;
}

/** The API's shape (VideoSDK's): the file with a presigned URL, internals left out. */
export interface RecordingView {
  readonly id: string;
  readonly roomId: string;
  readonly customRoomId: string | null;
  readonly sessionId: string;
  readonly callId: string | null;
  readonly kind: RecordingKind;
  readonly status: RecordingStatus;
  readonly start: string;
  readonly end: string | null;
  readonly reason: string | null;
  readonly file: {
    /** Presigned GET, expiring (15 min by default); null until the WAV is assembled. */
    readonly fileUrl: string | null;
    readonly size: number | null;
    readonly duration: number | null;
    readonly format: 'wav';
    readonly channels: 1 | 2;
    readonly sampleRate: number;
  };
}

export const RECORDING_EVENTS = ['recording-started', 'recording-stopped', 'recording-failed'] as const;
export type RecordingEventType = (typeof RECORDING_EVENTS)[number];

/**
 * A recording's object key: `{tenant}/{awsDirPath/}{roomId}/{sessionId}/{id}.wav` (`dirPath`: the caller's prefix,
 * under its tenant's, already validated: no `..`, no leading or trailing `/`).
 */
export function recordingKey(tenant: string, roomId: string, sessionId: string, id: string, dirPath?: string): string {
  return `${tenant}/${dirPath ? `${dirPath}/` : ''}${roomId}/${sessionId}/${id}.wav`;
}

/** Where a recording's segments wait until they are assembled: `{key}.segments/{000001…}`. */
export const segmentPrefix = (key: string): string => `${key}.segments/`;
export const segmentKey = (key: string, seq: number): string => `${segmentPrefix(key)}${String(seq).padStart(6, '0')}`;

/**
 * How a recording's segments hold its samples (interleaved), a pure function of its format so that the media server
 * writing them and the sweeper assembling a dead server's agree: at 8 kHz G.711 mu-law, one byte a sample (phone audio
 * as it came, copied, never decoded; half the bytes to upload); at any other rate PCM16LE, as mu-law would degrade
 * wideband audio. Either way the assembled WAV is PCM16.
 */
export type SegmentCodec = 'mulaw' | 'pcm16';
export const segmentCodec = ({ sampleRate }: RecordingFormat): SegmentCodec => (sampleRate === 8000 ? 'mulaw' : 'pcm16');

/** Bytes of WAV PCM16 per second of audio. */
export const bytesPerSecond = ({ channels, sampleRate }: RecordingFormat): number => channels * sampleRate * 2;
