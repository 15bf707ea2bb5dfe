/**
 * The agent kit is its own package, so it declares the room protocol's shapes itself (agent-kit/src/types.ts); the
 * media server declares what it sends (ingest-container/src/room). This file holds the two equal at compile time:
 * `npm run typecheck` fails here the day one side gains, loses or changes a field the other does not. (A type-level
 * check: it is compiled, not run.)
 */
import type { Joined, Participant, PhoneInfo, ServerEvents } from '../../agent-kit/src/types';
import type { ParticipantInfo, ParticipantQuality, PhoneInfo as RoomPhoneInfo, RoomEvent } from '../../ingest-container/src/room/room';
import type { Welcome } from '../../ingest-container/src/room/socket';

/** `true` only when A and B are the same type, optional and readonly members included (mutual assignability is not enough). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Event<K extends RoomEvent['type']> = Omit<Extract<RoomEvent, { type: K }>, 'type'>;

export const phoneInfo: Equal<RoomPhoneInfo, PhoneInfo> = true;
export const participant: Equal<ParticipantInfo, Participant> = true;
export const participantJoined: Equal<Event<'participant-joined'>, ServerEvents['participant-joined']> = true;
export const participantLeft: Equal<Event<'participant-left'>, ServerEvents['participant-left']> = true;
export const dtmf: Equal<Event<'dtmf'>, ServerEvents['dtmf']> = true;
export const checkpointPlayed: Equal<Event<'checkpoint-played'>, ServerEvents['checkpoint-played']> = true;
export const levels: Equal<Event<'levels'>, ServerEvents['levels']> = true;
/** The kit reads each member's quality as a record of numbers, looser than the server's fields: what it sends fits. */
type Fields<T> = { [K in keyof T]: T[K] };
export const quality: Equal<Event<'quality'>, { readonly quality: Readonly<Record<string, ParticipantQuality>> }> = true;
export const qualityFits: { readonly quality: Readonly<Record<string, Fields<ParticipantQuality>>> } extends ServerEvents['quality'] ? true : false = true;
export const everyEvent: Equal<RoomEvent['type'] | 'joined', keyof ServerEvents> = true;
/** `joined`'s fields beyond the welcome are the socket's own (participantId, roomId, sampleRate, participants). */
export const welcome: Equal<Welcome, Pick<Joined, 'call' | 'dispatch' | 'metadata'>> = true;
