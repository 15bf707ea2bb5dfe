import { newSessionId } from '../../../core/ids';
import type { Logger } from '../../../core/log';
import type { Room } from '../../../core/room-records/model';
import type { RoomNames } from '../../../core/room-records/service';
import { participantEvent, sessionEvent, type SessionEventSink } from '../../../core/sessions/events';
import type { Session } from '../../../core/sessions/model';
import type { Joiner, SessionStore } from '../../../core/sessions/store';
import { roomKey } from './key';
import type { ParticipantInfo, RoomWatcher, RoomWatchers } from './room';

export interface SessionRecorderDeps {
  readonly store: SessionStore;
  /** The room's record, by the name the room is kept by here: read once, as its session starts. */
  readonly rooms: Pick<RoomNames, 'joined'>;
  readonly events: SessionEventSink;
  /** This server's media region and id (the sweeper ends the sessions of a server that died). */
  readonly region: string;
  readonly serverId: string;
  readonly retentionDays: number;
  /** Ends the room's session here as `POST /v2/sessions/end` does: its `autoCloseConfig.duration` ran out. */
  readonly endSession: (tenant: string, roomName: string) => void;
  /** Deactivates the room as `POST /v2/rooms/deactivate` does: its `session-end-and-deactivate` session ended. */
  readonly deactivate: (tenant: string, roomName: string) => Promise<unknown>;
  /** How long a minute of `autoCloseConfig.duration` lasts (tests shorten it). @default 60_000 */
  readonly minuteMs?: number;
  readonly log: Logger;
}

const MINUTE_MS = 60_000;

/** A participant as its session record names it: phones by their call's name or number, others by nothing. */
function joinerOf({ id, kind, phone }: ParticipantInfo): Joiner {
  return { participantId: id, kind, name: phone ? (phone.name ?? phone.from) : null, callId: phone?.callId ?? null };
}

/**
 * Records each room's sessions on the media server holding the room (where its members meet; a member relayed here
 * from another server joins the room here, so that server records nothing), and fires their events
 * (core/sessions/events.ts) once each write is done, in order. Writes go one after another per room, off the join:
 * a join or leave never waits on one, and a failure is logged, never passed on. What it costs (DynamoDB, 1 KB items):
 * a session's first join 1 read (the room record) and 3 writes (the session, the room's pointer to it, the
 * participant); each later join 1 write; each leave 1 write; the last leave 2 more (the session's end, the pointer's
 * removal); the session's `due` index entry adds a write unit at its start and its end (docs/BENCHMARKS.md, "Session
 * records"). Nothing per frame.
 *
 * A room's `autoCloseConfig` (read with its names as its session starts) is acted on here: with a `duration`, one unref'd
 * timer per live session ends it that many minutes after its start, as `POST /v2/sessions/end` does; with
 * `session-end-and-deactivate`, the room is deactivated once its session ends (that timer, its last leave,
 * `/v2/sessions/end`), not when this server gives the room up (it stops, or the room moved to another server).
 */
export class SessionRecorder implements RoomWatchers {
  /** Each room's writes still to settle: `settled` waits on them. */
  private readonly writing = new Set<Promise<void>>();
  /** Each live room's session here, by room key: `live` answers from it. */
  private readonly rooms = new Map<string, RoomSession>();

  constructor(private readonly deps: SessionRecorderDeps) {}

  watch(tenant: string, roomId: string): RoomWatcher {
    const key = roomKey(tenant, roomId);
    const session = new RoomSession(
      tenant,
      roomId,
      this.deps,
      (work) => {
        this.writing.add(work);
        void work.finally(() => this.writing.delete(work));
      },
      () => {
        if (this.rooms.get(key) === session) this.rooms.delete(key);
      },
    );
    this.rooms.set(key, session);
    return session;
  }

  /**
   * The live session of room `roomId` here once the writes queued so far are done (a join just made has started it),
   * null when the room is not live here or its session could not be recorded. What a recording belongs to.
   */
  async live(tenant: string, roomId: string): Promise<Session | null> {
    return (await this.rooms.get(roomKey(tenant, roomId))?.current()) ?? null;
  }

  /** Settles once every write begun so far has: the server waits on it before it lets its table client go. */
  async settled(): Promise<void> {
    while (this.writing.size > 0) await Promise.allSettled([...this.writing]);
  }
}

/** One room's session on this server: started by its first join, ended as the room closes. */
class RoomSession implements RoomWatcher {
  /** Its writes, one after another; each step logs its own failure. */
  private queue: Promise<void> = Promise.resolve();
  private session: Session | null = null;
  /** A session whose start failed is not recorded further (its participants would belong to nothing). */
  private failed = false;
  /** The timelog index of each participant's open stay. */
  private readonly stays = new Map<string, number>();
  /** The room's `autoCloseConfig`, as its session started. */
  private autoClose: Room['autoCloseConfig'];
  /** Ends the session at its `autoCloseConfig.duration`; cleared as it ends. */
  private timer: NodeJS.Timeout | null = null;
  /** The room closed: a start still queued sets no timer (it would end the room's next session). */
  private over = false;

  constructor(
    private readonly tenant: string,
    private readonly roomName: string,
    private readonly deps: SessionRecorderDeps,
    private readonly track: (work: Promise<void>) => void,
    /** The room closed: it is no longer live. */
    private readonly onClosed: () => void,
  ) {}

  /** Its session once the writes queued so far are done (each catches its own failure). */
  async current(): Promise<Session | null> {
    await this.queue;
    return this.over ? null : this.session;
  }

  joined(participant: ParticipantInfo): void {
    const at = new Date().toISOString();
    const joiner = joinerOf(participant);
    this.enqueue('record a participant joining', async () => {
      const session = this.session ?? (await this.start(at));
      if (!session) return;
      const recorded = await this.deps.store.joined(this.tenant, session.id, joiner, at, this.deps.retentionDays);
      const entry = recorded.timelog.length - 1;
      this.stays.set(joiner.participantId, entry);
      this.deps.events.publish(participantEvent('participant-joined', this.roomName, session, recorded, entry, at));
    });
  }

  left(participantId: string): void {
    const at = new Date().toISOString();
    this.enqueue('record a participant leaving', async () => {
      const entry = this.stays.get(participantId);
      const { session } = this;
      // Its join was not recorded (a write failed): there is no stay to close.
      if (!session || entry === undefined) return;
      this.stays.delete(participantId);
      const recorded = await this.deps.store.left(this.tenant, session.id, participantId, entry, at);
      if (recorded) this.deps.events.publish(participantEvent('participant-left', this.roomName, session, recorded, entry, at));
    });
  }

  closed(abandoned: boolean): void {
    const at = new Date().toISOString();
    this.over = true;
    this.onClosed();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.enqueue('record a session ending', async () => {
      if (!this.session) return;
      const ended = await this.deps.store.end(this.tenant, this.session.id, at);
      if (ended) this.deps.events.publish(sessionEvent('session-ended', this.roomName, ended, at));
    });
    // Its own step: a session whose end could not be recorded ended all the same. Not when this server gave the room
    // up (stopping, or the room moved away): its members were cut, the room's life goes on.
    this.enqueue('deactivate the room as its session ended', async () => {
      if (abandoned || !this.session || this.autoClose?.type !== 'session-end-and-deactivate') return;
      await this.deps.deactivate(this.tenant, this.roomName);
      this.deps.log.info('room deactivated as its session ended (autoCloseConfig)', this.ids());
    });
  }

  /** The session starts with its first join: its record is written, with its room's names (one read). */
  private async start(at: string): Promise<Session | null> {
    if (this.failed) return null;
    try {
      const room = await this.deps.rooms.joined(this.tenant, this.roomName);
      const { region, serverId, retentionDays } = this.deps;
      const session: Session = { tenant: this.tenant, id: newSessionId(Date.parse(at)), roomId: room.roomId, customRoomId: room.customRoomId, start: at, end: null, status: 'ongoing', region };
      await this.deps.store.start(session, serverId, retentionDays);
      this.session = session;
      this.autoClose = room.autoCloseConfig;
      this.closeAfter(room.autoCloseConfig?.duration, Date.parse(at));
      this.deps.events.publish(sessionEvent('session-started', this.roomName, session, at));
      return session;
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  /** Ends the session `minutes` after it started (`startMs`), unless it ends first. */
  private closeAfter(minutes: number | undefined, startMs: number): void {
    if (minutes === undefined || this.over) return;
    const delayMs = Math.max(0, startMs + minutes * (this.deps.minuteMs ?? MINUTE_MS) - Date.now());
    this.timer = setTimeout(() => {
      try {
        this.timer = null;
        this.deps.log.info('ending the session: its autoCloseConfig.duration ran out', { ...this.ids(), minutes });
        this.deps.endSession(this.tenant, this.roomName);
      } catch (err) {
        this.deps.log.error('the session could not be ended at its autoCloseConfig.duration', { ...this.ids(), err });
      }
    }, delayMs);
    this.timer.unref();
  }

  private ids() {
    return { tenant: this.tenant, roomId: this.roomName, sessionId: this.session?.id };
  }

  private enqueue(what: string, step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((err: unknown) => this.deps.log.error(`session record: could not ${what}; the room goes on`, { ...this.ids(), err }));
    this.track(this.queue);
  }
}
