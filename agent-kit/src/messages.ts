/**
 * The room protocol's wire format on the agent's side: server messages parsed and checked, controls built. The rest
 * of the kit never spells a field name of the protocol.
 */
import { AgentKitError, SAMPLE_RATES, type Participant, type PhoneInfo, type SampleRate, type ServerMessage } from './types';

type Json = Record<string, unknown>;

const bad = (message: string): AgentKitError => new AgentKitError('bad_message', message);
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function text(object: Json, field: string, where: string): string {
  const value = object[field];
  if (typeof value !== 'string') throw bad(`${where}: "${field}" must be a string`);
  return value;
}

function record<T>(object: Json, field: string, where: string, check: (value: unknown) => value is T, what: string): Readonly<Record<string, T>> {
  const value = object[field];
  if (!isObject(value) || !Object.values(value).every(check)) throw bad(`${where}: "${field}" must be an object of ${what}`);
  return value as Record<string, T>;
}

const isNumber = (value: unknown): value is number => typeof value === 'number';
const isString = (value: unknown): value is string => typeof value === 'string';
const isCounts = (value: unknown): value is Readonly<Record<string, number>> => isObject(value) && Object.values(value).every(isNumber);

function phone(value: unknown, where: string): PhoneInfo {
  if (!isObject(value)) throw bad(`${where}: a phone must be an object`);
  const info: PhoneInfo = { from: text(value, 'from', where), to: text(value, 'to', where), callUuid: text(value, 'callUuid', where), callId: text(value, 'callId', where) };
  return {
    ...info,
    ...(value.name !== undefined && { name: text(value, 'name', where) }),
    ...(value.attributes !== undefined && { attributes: record(value, 'attributes', where, isString, 'strings') }),
  };
}

function participant(value: unknown, where: string): Participant {
  if (!isObject(value)) throw bad(`${where}: a participant must be an object`);
  const kind = value.kind;
  if (kind !== 'phone' && kind !== 'web' && kind !== 'agent') throw bad(`${where}: a participant's "kind" must be phone, web or agent`);
  return { id: text(value, 'id', where), kind, ...(value.phone !== undefined && { phone: phone(value.phone, where) }) };
}

const isRate = (value: unknown): value is SampleRate => SAMPLE_RATES.includes(value as SampleRate);

/** One server text message: an event, or the server's refusal of the agent's last message. Throws AgentKitError (`bad_message`). */
export function parseServerMessage(data: string): ServerMessage | { readonly type: 'error'; readonly message: string } {
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    throw bad('a text message that is not JSON');
  }
  if (!isObject(message)) throw bad('a text message that is not a JSON object');
  const type = message.type;
  const where = `"${String(type)}"`;
  switch (type) {
    case 'joined': {
      const { participants, sampleRate, call, dispatch, metadata } = message;
      if (!isRate(sampleRate)) throw bad(`${where}: "sampleRate" must be one of ${SAMPLE_RATES.join(', ')}`);
      if (!Array.isArray(participants)) throw bad(`${where}: "participants" must be an array`);
      if (dispatch !== undefined && !(isObject(dispatch) && isString(dispatch.jobId))) throw bad(`${where}: "dispatch" must be {jobId}`);
      if (metadata !== undefined && !isObject(metadata)) throw bad(`${where}: "metadata" must be an object`);
      return {
        type,
        participantId: text(message, 'participantId', where),
        roomId: text(message, 'roomId', where),
        sampleRate,
        participants: participants.map((p) => participant(p, where)),
        ...(call !== undefined && { call: phone(call, where) }),
        ...(dispatch !== undefined && { dispatch: { jobId: dispatch.jobId as string } }),
        ...(metadata !== undefined && { metadata }),
      };
    }
    case 'participant-joined':
      return { type, participant: participant(message.participant, where) };
    case 'participant-left':
      return { type, participantId: text(message, 'participantId', where), reason: text(message, 'reason', where) };
    case 'dtmf':
      return { type, participantId: text(message, 'participantId', where), digit: text(message, 'digit', where) };
    case 'checkpoint-played':
      return { type, participantId: text(message, 'participantId', where), name: text(message, 'name', where) };
    case 'levels':
      return { type, levels: record(message, 'levels', where, isNumber, 'numbers') };
    case 'quality':
      return { type, quality: record(message, 'quality', where, isCounts, 'frame counts') };
    case 'error':
      return { type, message: text(message, 'message', where) };
    default:
      throw bad(`an unknown message type ${where}`);
  }
}

/** The controls an agent sends (docs/room-protocol.md#controls-text-frames-from-you). */
export const control = {
  clear: () => JSON.stringify({ type: 'clear' }),
  checkpoint: (name: string) => JSON.stringify({ type: 'checkpoint', name }),
  sendDtmf: (digits: string) => JSON.stringify({ type: 'send-dtmf', digits }),
  hangup: (participantId: string) => JSON.stringify({ type: 'hangup', participantId }),
} as const;
