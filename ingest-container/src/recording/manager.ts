import type { CallStore } from '../../../core/calls/store';
import { newRecordingId } from '../../../core/ids';
import type { Logger } from '../../../core/log';
import type { RecordingCommand } from '../../../core/media-commands';
import { endEvent, type RecordingEventSink } from '../../../core/recordings/events';
import { recordingKey, type Recording, type RecordingFormat } from '../../../core/recordings/model';
import type { Assembled, RecordingObjects } from '../../../core/recordings/objects';
import type { RecordingEnd, RecordingStore } from '../../../core/recordings/store';
import type { Session } from '../../../core/sessions/model';
import type { ParticipantInfo, Room, RoomWatcher, RoomWatchers } from '../room/room';
import { CallRecorder, RoomMixRecorder } from './recorders';
import { SegmentWriter } from './segments';

export interface RecordingManagerDeps {
  readonly store: RecordingStore;
  readonly objects: Pick<RecordingObjects, 'putSegment' | 'assemble'>;
  readonly events: RecordingEventSink;
  readonly calls: Pick<CallStore, 'addRecording'>;
  /** The rooms live here (the registry). */
  readonly rooms: { find(tenant: string, roomId: string): Room | undefined };
  /** A live room's session here (the SessionRecorder). */
  readonly sessions: { live(tenant: string, roomId: string): Promise<Session | null> };
  /** Where this server's recordings go: its media region, the bucket's AWS region, the bucket. */
  readonly region: string;
  readonly awsRegion: string;
  readonly bucket: string;
  readonly serverId: string;
  /** MAX_RECORDINGS: recordings written here at once; more are refused (`failed`). */
  readonly maxRecordings: number;
  /** RECORDING_SEGMENT_SECONDS: audio in each segment uploaded, what a recording loses at most if this server dies. */
  readonly segmentSeconds: number;
  readonly retentionDays: number;
  /** A recording ended `failed` (the RecordingsFailed metric). */
  readonly onFailed: () => void;
  readonly log: Logger;
}

/** One recording written here: its tap on the room and its audio's way to the bucket. */
interface Active {
  readonly recording: Recording;
  readonly roomKey: string;
  /** The phone participant a call recording follows; null for a room recording. */
  readonly participantId: string | null;
  readonly format: RecordingFormat;
  readonly writer: SegmentWriter;
  readonly detach: () => void;
  /** Its record's writes, one after another: `began`, then its end. */
  work: Promise<void>;
}

const roomKeyOf = (tenant: string, roomId: string) => `${tenant}\u0000${roomId}`;

/**
 * The recordings this media server writes (issue 20): room recordings started and stopped by command (the API wrote
 * the record), and, for a phone whose call asks to be recorded (`record`), its call recording and its room's recording
 * unless the room has one. Each taps its room (Room.record) and uploads as it goes (SegmentWriter); as it stops (a
 * command, its phone leaving, its room closing, the server draining, its uploads failing) its segments are assembled,
 * one assembly at a time on this server (each holds up to PART_BYTES), and its record ends with its event. Nothing
 * here throws into a room tick, a join or a command: each failure is logged with the recording's ids. A server that
 * dies leaves its recordings `recording` in its `due` index: the sweeper assembles what survived (`partial`).
 */
export class RecordingManager implements RoomWatchers {
  private readonly active = new Map<string, Active>();
  /** Work still to settle (set-ups, ends): `settled` waits on it. */
  private readonly pending = new Set<Promise<void>>();
  /** Assemblies, one at a time. */
  private assembling: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: RecordingManagerDeps) {}

  watch(tenant: string, roomId: string): RoomWatcher {
    return {
      joined: (participant) => {
        if (participant.phone?.record) this.track(this.recordCall(tenant, roomId, participant), { tenant, roomId, participantId: participant.id });
      },
      left: (participantId) => this.stopWhere((a) => a.roomKey === roomKeyOf(tenant, roomId) && a.participantId === participantId, null),
      closed: () => this.stopWhere((a) => a.roomKey === roomKeyOf(tenant, roomId), null),
    };
  }

  /** `start-recording` / `stop-recording`, run beside the command poll: a failure is logged with the recording's ids. */
  command(command: RecordingCommand): void {
    const ids = { tenant: command.tenant, roomId: command.roomId, recordingId: command.recordingId };
    if (command.type === 'stop-recording') this.stopWhere((a) => a.recording.id === command.recordingId && a.recording.tenant === command.tenant, null);
    else this.track(this.start(command), ids);
  }

  /** `start-recording`: the API wrote the record; its room must be live here. */
  private async start(command: RecordingCommand): Promise<void> {
    const recording = await this.deps.store.get(command.tenant, command.recordingId);
    if (!recording || recording.status !== 'recording') {
      this.deps.log.warn('start-recording: the recording is not recording (stopped meanwhile?)', { tenant: command.tenant, roomId: command.roomId, recordingId: command.recordingId });
      return;
    }
    await this.begin(recording, command.roomId, null);
  }

  /** Drain: every recording here stops and is finished (assembled, `completed`). */
  async stopAll(): Promise<void> {
    this.stopWhere(() => true, null);
    await this.settled();
  }

  /** Settles once every set-up and end begun so far has. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  get count(): number {
    return this.active.size;
  }

  /** A phone that asks to be recorded joined room `roomId`: its call recording, and the room's unless it has one. */
  private async recordCall(tenant: string, roomId: string, participant: ParticipantInfo): Promise<void> {
    const { phone } = participant;
    if (!phone) return;
    const session = await this.deps.sessions.live(tenant, roomId);
    if (!session) {
      this.deps.log.warn('call not recorded: its room has no live session here', { tenant, roomId, callId: phone.callId });
      return;
    }
    const room = this.deps.rooms.find(tenant, roomId);
    const rate = room?.get(participant.id)?.rate ?? 8000;
    const call = this.newRecording(session, 'call', phone.callId, { format: 'wav', channels: 2, sampleRate: rate });
    if (await this.deps.store.create(call, this.deps.retentionDays)) {
      await this.deps.calls.addRecording(tenant, phone.callId, call.id);
      await this.begin(call, roomId, participant.id);
    }
    const mix = this.newRecording(session, 'room', null, { format: 'wav', channels: 1, sampleRate: room?.rate ?? 8000 });
    // False: the room is recording already (a rule's earlier call, or the API).
    if (await this.deps.store.create(mix, this.deps.retentionDays)) await this.begin(mix, roomId, null);
  }

  private newRecording(session: Session, kind: Recording['kind'], callId: string | null, format: RecordingFormat): Recording {
    const { tenant, roomId, customRoomId } = session;
    const id = newRecordingId();
    const { region, awsRegion, bucket, serverId } = this.deps;
    return {
      tenant,
      id,
      kind,
      roomId,
      customRoomId,
      sessionId: session.id,
      callId,
      status: 'recording',
      start: new Date().toISOString(),
      end: null,
      reason: null,
      format,
      region,
      awsRegion,
      bucket,
      key: recordingKey(tenant, roomId, session.id, id),
      serverId,
      webhookUrl: null,
      size: null,
      duration: null,
    };
  }

  /** Taps room `roomName` for `recording` (following phone `participantId` for a call's), or ends it `failed`. */
  private async begin(recording: Recording, roomName: string, participantId: string | null): Promise<void> {
    const ids = { tenant: recording.tenant, roomId: roomName, recordingId: recording.id };
    const room = this.deps.rooms.find(recording.tenant, roomName);
    const phone = participantId === null ? null : room?.get(participantId);
    // Checked and taken in one synchronous step: nothing else begins in between.
    const over = this.active.size >= this.deps.maxRecordings;
    const refusal = !room ? 'the room is not live' : participantId !== null && !phone ? 'the call left' : over ? `recording limit reached: at most ${this.deps.maxRecordings} on one media server` : null;
    if (!room || refusal) {
      this.deps.log.warn('recording not started', { ...ids, reason: refusal });
      return this.end(recording, 'failed', refusal, null);
    }
    const format: RecordingFormat = phone ? { format: 'wav', channels: 2, sampleRate: phone.rate } : { format: 'wav', channels: 1, sampleRate: room.rate };
    const writer = new SegmentWriter(this.deps.objects, recording.key, format, this.deps.segmentSeconds, (err) => {
      this.deps.log.error('recording upload failed: it stops', { ...ids, err });
      this.stopWhere((a) => a.recording.id === recording.id, err.message);
    });
    const detach = room.record(phone ? new CallRecorder(phone.id, phone.rate, writer) : new RoomMixRecorder(room.rate, writer));
    const start = new Date().toISOString();
    const active: Active = { recording, roomKey: roomKeyOf(recording.tenant, roomName), participantId, format, writer, detach, work: Promise.resolve() };
    this.active.set(recording.id, active);
    this.deps.log.info('recording started', { ...ids, kind: recording.kind });
    active.work = this.deps.store.began(recording.tenant, recording.id, start, format).then(async (began) => {
      if (began) await this.deps.events.publish('recording-started', began);
    });
    this.track(active.work, ids);
  }

  /** Stops the matching recordings: their taps come off now; each is finished in the background (`reason`: why it failed). */
  private stopWhere(match: (active: Active) => boolean, reason: string | null): void {
    for (const active of [...this.active.values()]) {
      if (!match(active)) continue;
      this.active.delete(active.recording.id);
      active.detach();
      // Its audio ends now, whenever its upload and assembly are done.
      const at = new Date().toISOString();
      const { tenant, id } = active.recording;
      const work = active.work
        .catch(() => undefined)
        .then(async () => {
          let failure = reason;
          try {
            await active.writer.finish();
          } catch (err) {
            failure ??= err instanceof Error ? err.message : String(err);
          }
          await this.end(active.recording, failure ? 'partial' : 'completed', failure, active.format, at);
        });
      this.track(work, { tenant, roomId: active.recording.roomId, recordingId: id });
    }
  }

  /**
   * Assembles what was uploaded (one assembly at a time here) and ends the record with its event. With nothing
   * uploaded, or `format` null (it never began), it ends `failed`.
   */
  private async end(recording: Recording, status: RecordingEnd['status'], reason: string | null, format: RecordingFormat | null, at = new Date().toISOString()): Promise<void> {
    let assembled: Assembled | null = null;
    try {
      assembled = format ? await this.assemble(recording.key, format) : null;
    } catch (err) {
      // Nothing else would finish it (the sweeper takes only a dead server's): it ends failed, its segments left to expire.
      this.deps.log.error('recording could not be assembled: it fails', { tenant: recording.tenant, roomId: recording.roomId, recordingId: recording.id, err });
      reason = `could not be assembled: ${err instanceof Error ? err.message : String(err)}`;
    }
    const ended = await this.deps.store.finish(recording.tenant, recording.id, {
      status: assembled ? status : 'failed',
      end: at,
      reason: assembled ? reason : (reason ?? 'no audio was recorded'),
      size: assembled?.size ?? null,
      duration: assembled?.duration ?? null,
    });
    if (ended?.status === 'failed') this.deps.onFailed();
    if (ended) await this.deps.events.publish(endEvent(ended), ended);
    this.deps.log.info('recording ended', { tenant: recording.tenant, roomId: recording.roomId, recordingId: recording.id, status: ended?.status, duration: assembled?.duration });
  }

  private assemble(key: string, format: RecordingFormat) {
    const assembly = this.assembling.then(() => this.deps.objects.assemble(key, format));
    this.assembling = assembly.catch(() => undefined);
    return assembly;
  }

  /** Logged, never passed on: a failure here fails one recording, not a join, a tick or a command. */
  private track(work: Promise<void>, ids: Record<string, string>): void {
    const guarded = work.catch((err: unknown) => this.deps.log.error('recording: a step failed', { ...ids, err }));
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }
}
