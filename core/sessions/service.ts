import { ROOM_ID } from '../connectors/schema';
import { NotFoundError } from '../errors';
import { SESSION_ID } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageInfo, PageRequest } from '../pagination';
import { outcomeWithin, type RoomCommandSender } from '../room-records/closer';
import { roomName } from '../room-records/model';
import type { RoomStore } from '../room-records/store';
import { isActive, toSessionView, type Session, type SessionParticipant, type SessionView } from './model';
import type { RemoveParticipantInput } from './schema';
import type { SessionFilter, SessionStore } from './store';

/** Session use cases, each scoped to the calling tenant: another tenant's session or participant does not exist. */
export class SessionService {
  constructor(
    private readonly deps: {
      readonly sessions: SessionStore;
      readonly rooms: Pick<RoomStore, 'byName'>;
      /** Reaches the media server holding a room (`end-session`, `remove-participant`). */
      readonly commands: RoomCommandSender;
      readonly log: Logger;
    },
  ) {}

  async list(tenant: string, filter: SessionFilter, request: PageRequest): Promise<NumberedPage<SessionView>> {
    const { data, pageInfo } = await this.deps.sessions.page(tenant, filter, request);
    return { data: data.map(toSessionView), pageInfo };
  }

  async get(tenant: string, id: string): Promise<SessionView> {
    return toSessionView(await this.found(tenant, id));
  }

  /** A page of the session's participants (`activeOnly`: those in the room now), in VideoSDK's shape. */
  async participants(tenant: string, id: string, activeOnly: boolean, request: PageRequest): Promise<{ data: { participants: readonly SessionParticipant[] }; pageInfo: PageInfo }> {
    await this.found(tenant, id);
    const { data, pageInfo } = await this.deps.sessions.participants(tenant, id, activeOnly, request);
    return { data: { participants: data }, pageInfo };
  }

  async participant(tenant: string, id: string, participantId: string): Promise<SessionParticipant> {
    await this.found(tenant, id);
    const participant = await this.deps.sessions.participant(tenant, id, participantId);
    if (!participant) throw new NotFoundError(`Participant ${participantId} not found in session ${id}`);
    return participant;
  }

  /**
   * Ends the room's live session through the media server holding the room (its participants closed, its calls
   * ended); answers the session, ended once that server recorded it within OUTCOME_WAIT_MS.
   */
  async end(tenant: string, ref: string): Promise<SessionView> {
    const session = await this.live(tenant, ref);
    if (await this.deps.commands.send(tenant, { type: 'end-session', roomId: roomName(session) })) {
      const ended = await outcomeWithin(() => this.deps.sessions.get(tenant, session.id), (now) => now.status === 'ended');
      if (ended) return toSessionView(ended);
    } else this.deps.log.warn('session end asked of a room no media server holds: the sweeper ends it', { tenant, sessionId: session.id });
    return toSessionView(session);
  }

  /** Takes a participant out of its room through the media server holding it: a phone's call ends (`removed`), others are closed. */
  async removeParticipant(tenant: string, input: RemoveParticipantInput): Promise<{ message: string }> {
    const session = input.sessionId !== undefined ? await this.found(tenant, input.sessionId) : await this.live(tenant, input.roomId ?? '');
    const participant = await this.deps.sessions.participant(tenant, session.id, input.participantId);
    if (session.status !== 'ongoing' || !participant || !isActive(participant)) throw new NotFoundError(`Participant ${input.participantId} is not in session ${session.id}`);
    if (!(await this.deps.commands.send(tenant, { type: 'remove-participant', roomId: roomName(session), participantId: participant.participantId }))) {
      // Its server died (the sweeper ends the session and closes its stays): nobody is in the room to remove.
      this.deps.log.warn('participant removal asked of a room no media server holds: the sweeper ends its session', { tenant, sessionId: session.id, participantId: participant.participantId });
      throw new NotFoundError(`Participant ${input.participantId} is not in a live room: no media server holds session ${session.id}'s room (its session is ended by the sweeper)`);
    }
    return { message: 'Participant removed' };
  }

  private async found(tenant: string, id: string): Promise<Session> {
    const session = SESSION_ID.test(id) ? await this.deps.sessions.get(tenant, id) : null;
    if (!session) throw new NotFoundError(`Session ${id} not found`);
    return session;
  }

  /** The live session of the room named `ref` (its `roomId` or `customRoomId`). */
  private async live(tenant: string, ref: string): Promise<Session> {
    const room = ROOM_ID.test(ref) ? await this.deps.rooms.byName(tenant, ref) : null;
    if (!room) throw new NotFoundError(`Room ${ref} not found`);
    const session = await this.deps.sessions.live(tenant, room.roomId);
    if (!session) throw new NotFoundError(`Room ${ref} has no live session`);
    return session;
  }
}
