import { maskNumber } from '../../../core/calls/model';
import type { Claim } from '../../../core/claims';
import type { Logger } from '../../../core/log';
import { MAX_EXTRA_HEADERS } from '../plivo/protocol';
import { CLOSE } from '../transport/close-codes';
import type { PhoneInfo, Room } from '../room/room';
import type { RoomSocket } from '../room/socket';
import { dialAgent, type DialOptions } from './agent';
import type { CallLifecycle, EndReason } from './lifecycle';

/** The call as the room and its agent see it: the caller's number masked if its rule says so, its header attributes, whether it is recorded. */
export function phoneInfoOf({ from, to, callUuid, callId, hidePhoneNumber, attributes, participant, record }: Claim): PhoneInfo {
  return {
    from: hidePhoneNumber ? maskNumber(from) : from,
    to,
    callUuid,
    callId,
    ...(participant?.name !== undefined && { name: participant.name }),
    ...(Object.keys(attributes).length > 0 && { attributes }),
    ...(record && { record }),
  };
}

/**
 * `phone` with its stream's extra headers (an outbound call's rule `headers`, which Plivo hands back in `start`) added
 * as attributes `sip.h.<name>` (lower case, as a call's SIP headers are), after those its claim carries and up to
 * MAX_EXTRA_HEADERS in all; a header whose attribute is already set leaves it. `phone` itself when there are none.
 */
export function withExtraHeaders(phone: PhoneInfo, headers: readonly (readonly [string, string])[]): PhoneInfo {
  const attributes: Record<string, string> = { ...phone.attributes };
  for (const [name, value] of headers) {
    if (Object.keys(attributes).length >= MAX_EXTRA_HEADERS) break;
    attributes[`sip.h.${name.toLowerCase()}`] ??= value;
  }
  return headers.length ? { ...phone, attributes } : phone;
}

export interface CallSessionDeps {
  readonly lifecycle: CallLifecycle;
  readonly dial: DialOptions;
  readonly log: Logger;
}

/**
 * One call from its stream's `start` to its end, whatever carries its audio: recorded as answered as it joins its
 * room, its rule's agent dialled then (the call goes on whether or not the agent answers), the agent hung up and the
 * record ended with why as it leaves. Store failures are logged; they never end the call.
 */
export class CallSession {
  private answeredAtMs: number | null = null;
  /** The rule's agent, dialled as the call joins; aborted (or hung up) when the call ends. */
  private readonly agentDial = new AbortController();
  private agent: Promise<RoomSocket | null> = Promise.resolve(null);

  constructor(
    private readonly claim: Claim,
    private readonly deps: CallSessionDeps,
  ) {}

  /** The call joined `room`, as `phone` (what its agent is told of it). */
  answered(room: Room, phone: PhoneInfo): void {
    this.answeredAtMs = Date.now();
    this.deps.log.info('call joined room', { roomId: this.claim.roomId });
    this.deps.lifecycle.answered(this.claim.tenant, this.claim.callId, this.claim.events).catch((err: unknown) => this.deps.log.error('could not record the call as answered', { err }));
    if (this.claim.agent) this.agent = this.dialAgent(room, phone);
  }

  /** The call left its room (or never joined it): its agent is hung up and its record ended with `reason`. */
  async ended(reason: EndReason): Promise<void> {
    this.agentDial.abort();
    (await this.agent)?.close(CLOSE.ended, 'call ended');
    try {
      await this.deps.lifecycle.ended(this.claim.tenant, this.claim.callId, reason, this.answeredAtMs, this.claim.events);
    } catch (err) {
      this.deps.log.error('could not record the call as ended', { err });
    }
  }

  private async dialAgent(room: Room, phone: PhoneInfo): Promise<RoomSocket | null> {
    const { callId, tenant, agent } = this.claim;
    if (!agent) return null;
    const welcome = { call: phone, ...(agent.metadata && { metadata: agent.metadata }) };
    const socket = await dialAgent(agent, room, welcome, this.deps.log, this.agentDial.signal, this.deps.dial);
    // The call ended while dialling, before the agent answered: nothing to record.
    if (this.agentDial.signal.aborted && !socket) return null;
    if (!socket) {
      room.counters.agentDialsFailed++;
      this.deps.log.error('agent unreachable: the call goes on without it', {});
    }
    const status = socket ? 'connected' : 'unreachable';
    await this.deps.lifecycle.agentStatus(tenant, callId, status).catch((err: unknown) => this.deps.log.error('could not record the agent status', { err }));
    return socket;
  }
}
