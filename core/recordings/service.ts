import { ROOM_ID } from '../connectors/schema';
import type { ControlPlaneConfig } from '../config';
import { BadRequestError, ConflictError, NotFoundError, ServiceUnavailableError } from '../errors';
import { newRecordingId, RECORDING_ID } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageRequest } from '../pagination';
import { outcomeWithin, type RoomCommandSender, type RoomServers } from '../room-records/closer';
import { roomName, type Room } from '../room-records/model';
import type { RoomStore } from '../room-records/store';
import type { SessionStore } from '../sessions/store';
import { targetProblem, WEBHOOK_SCHEMES } from '../webhooks/targets';
import { toRecordingView } from './events';
import { recordingKey, type Recording, type RecordingView } from './model';
import type { StartRecordingInput } from './schema';
import type { RecordingStore } from './store';

/**
 * The rate a room recording's record says until its media server begins writing it: the room's mix rate is known
 * there alone, and `began` replaces it with the rate it records at.
 */
const ROOM_RATE_UNTIL_BEGUN = 16_000;

/** A recordings bucket's objects, as the API uses them (`RecordingObjects`, core/recordings/objects.ts). */
export interface RecordingFiles {
  presign(key: string, seconds: number): Promise<string>;
  delete(key: string): Promise<void>;
}

/** What `POST /v2/recordings/start` answers (VideoSDK's shape). */
export interface RecordingStarted {
  readonly recordingId: string;
  readonly roomId: string;
  readonly sessionId: string;
  readonly status: 'recording';
}

/** Recording use cases, each scoped to the calling tenant: another tenant's recording or room does not exist. */
export class RecordingService {
  constructor(
    private readonly deps: {
      readonly recordings: RecordingStore;
      readonly rooms: Pick<RoomStore, 'byName'>;
      readonly sessions: Pick<SessionStore, 'live'>;
      /** The server holding a room: it writes the room's recordings. */
      readonly servers: RoomServers;
      /** Reaches it (`start-recording`, `stop-recording`). */
      readonly commands: RoomCommandSender;
      /** The media regions' buckets, how long records are kept and a `fileUrl` is valid. */
      readonly config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws' | 'recordingRetentionDays' | 'recordingUrlSeconds'>;
      /** The objects of a media region's recordings bucket (`bucket` in `awsRegion`). */
      readonly files: (awsRegion: string, bucket: string) => RecordingFiles;
      /** Local mode only: a recording's `webhookUrl` may be at http://localhost and private addresses. */
      readonly allowPrivateTargets: boolean;
      readonly log: Logger;
    },
  ) {}

  /**
   * Starts recording the room's live session: its record first (`recording`, the room's lock taken, under the server
   * holding the room), then a `start-recording` to that server, which writes the audio to its region's bucket.
   */
  async start(tenant: string, input: StartRecordingInput): Promise<RecordingStarted> {
    if (input.webhookUrl !== undefined) {
      const problem = await targetProblem(input.webhookUrl, this.deps.allowPrivateTargets, WEBHOOK_SCHEMES);
      if (problem) throw new BadRequestError(`Invalid request body: webhookUrl: ${problem}`, [{ field: 'webhookUrl', message: problem }]);
    }
    const room = await this.room(tenant, input.roomId);
    const session = await this.deps.sessions.live(tenant, room.roomId);
    if (!session) throw new ConflictError(`Room ${input.roomId} has no live session: a recording starts once someone is in the room`);
    const name = roomName(room);
    const server = await this.deps.servers.find(tenant, name);
    if (!server?.holds) throw new ConflictError(`Room ${input.roomId} has no live session on a media server (its server stopped; the session is ended by the sweeper)`);
    const region = this.deps.config.mediaRegions.find(({ id }) => id === session.region);
    if (!region) throw new ServiceUnavailableError(`Media region ${session.region} of room ${input.roomId}'s session is not configured`);
    const now = Date.now();
    const id = newRecordingId(now);
    const recording: Recording = {
      tenant,
      id,
      kind: 'room',
      roomId: room.roomId,
      customRoomId: room.customRoomId,
      sessionId: session.id,
      callId: null,
      status: 'recording',
      start: new Date(now).toISOString(),
      end: null,
      reason: null,
      format: { format: 'wav', channels: 1, sampleRate: ROOM_RATE_UNTIL_BEGUN },
      region: region.id,
      awsRegion: region.awsRegion ?? this.deps.config.aws.region,
      bucket: region.recordingsBucket,
      key: recordingKey(tenant, room.roomId, session.id, id, input.awsDirPath),
      serverId: server.serverId,
      webhookUrl: input.webhookUrl ?? null,
      size: null,
      duration: null,
    };
    if (!(await this.deps.recordings.create(recording, this.deps.config.recordingRetentionDays))) throw new ConflictError(`Room ${input.roomId} is being recorded already: end that recording first (POST /v2/recordings/end)`);
    const log = this.deps.log.child({ tenant, recordingId: id, roomId: name, sessionId: session.id, mediaServer: server.serverId });
    if (!(await this.deps.commands.send(tenant, { type: 'start-recording', roomId: name, recordingId: id }))) {
      // The room left its server between the two reads: nobody would write it.
      await this.deps.recordings.finish(tenant, id, { status: 'failed', end: new Date().toISOString(), reason: 'room no longer on a media server', size: null, duration: null });
      log.warn('recording asked of a room no media server holds any more: failed');
      throw new ConflictError(`Room ${input.roomId} has no live session on a media server`);
    }
    log.info('recording started');
    return { recordingId: id, roomId: room.roomId, sessionId: session.id, status: 'recording' };
  }

  /**
   * Stops the room's room recording, or its recording `id` (a call's too), through the media server writing it;
   * answers the recording, ended once that server recorded it within OUTCOME_WAIT_MS.
   */
  async end(tenant: string, input: { readonly roomId: string; readonly id?: string | undefined }): Promise<RecordingView> {
    const room = await this.room(tenant, input.roomId);
    const recording = input.id === undefined ? await this.deps.recordings.active(tenant, room.roomId) : await this.deps.recordings.get(tenant, input.id);
    if (!recording || recording.roomId !== room.roomId) throw new NotFoundError(input.id === undefined ? `Room ${input.roomId} is not being recorded` : `Recording ${input.id} of room ${input.roomId} not found`);
    if (recording.status !== 'recording') throw new ConflictError(`Recording ${recording.id} has ended (${recording.status})`);
    if (await this.deps.commands.send(tenant, { type: 'stop-recording', roomId: roomName(room), recordingId: recording.id })) {
      const ended = await outcomeWithin(() => this.deps.recordings.get(tenant, recording.id), (now) => now.status !== 'recording');
      if (ended) return this.view(ended);
    } else this.deps.log.warn('recording end asked of a room no media server holds: the sweeper finishes it', { tenant, recordingId: recording.id });
    return this.view(recording);
  }

  /** A page of the tenant's recordings, newest first: of the room `roomId` names (its `roomId` or `customRoomId`), of session `sessionId`. */
  async list(tenant: string, filter: { readonly roomId?: string | undefined; readonly sessionId?: string | undefined }, request: PageRequest): Promise<NumberedPage<RecordingView>> {
    const room = filter.roomId === undefined ? undefined : await this.deps.rooms.byName(tenant, filter.roomId);
    if (room === null) return { data: [], pageInfo: { currentPage: request.page, perPage: request.perPage, lastPage: 1, total: 0 } };
    const { data, pageInfo } = await this.deps.recordings.page(tenant, { roomId: room?.roomId, sessionId: filter.sessionId }, request);
    return { data: data.map((recording) => toRecordingView(recording, null)), pageInfo };
  }

  /** The recording, its `fileUrl` a presigned GET of its WAV once that is written. */
  async get(tenant: string, id: string): Promise<RecordingView> {
    return this.view(await this.found(tenant, id));
  }

  /** Deletes an ended recording: its audio, then its record. */
  async delete(tenant: string, id: string): Promise<void> {
    const recording = await this.found(tenant, id);
    if (recording.status === 'recording') throw new ConflictError(`Recording ${id} is still recording: end it first (POST /v2/recordings/end)`);
    await this.deps.files(recording.awsRegion, recording.bucket).delete(recording.key);
    if (!(await this.deps.recordings.delete(tenant, id))) throw new NotFoundError(`Recording ${id} not found`);
    this.deps.log.info('recording deleted', { tenant, recordingId: id, roomId: recording.roomId });
  }

  private async view(recording: Recording): Promise<RecordingView> {
    const written = (recording.status === 'completed' || recording.status === 'partial') && recording.size !== null;
    return toRecordingView(recording, written ? await this.deps.files(recording.awsRegion, recording.bucket).presign(recording.key, this.deps.config.recordingUrlSeconds) : null);
  }

  private async found(tenant: string, id: string): Promise<Recording> {
    const recording = RECORDING_ID.test(id) ? await this.deps.recordings.get(tenant, id) : null;
    if (!recording) throw new NotFoundError(`Recording ${id} not found`);
    return recording;
  }

  /** The tenant's room named `ref` (its `roomId` or `customRoomId`). */
  private async room(tenant: string, ref: string): Promise<Room> {
    const room = ROOM_ID.test(ref) ? await this.deps.rooms.byName(tenant, ref) : null;
    if (!room) throw new NotFoundError(`Room ${ref} not found`);
    return room;
  }
}
