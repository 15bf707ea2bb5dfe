import { createHash } from 'node:crypto';
import type { ProviderId } from '../providers';

export const CALL_STATUSES = ['started', 'answered', 'ended', 'rejected'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** An agent-routed call's agent: `pending` until the bridge has dialled it. */
export const AGENT_STATUSES = ['pending', 'connected', 'unreachable'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const CALL_ID = /^call_[0-9a-hjkmnp-tv-z]{20}$/;

/** A call as recorded: one per (tenant, Plivo CallUUID). `claimRef` is internal and never shown. */
export interface CallRecord {
  readonly id: string;
  readonly tenant: string;
  readonly callUuid: string;
  readonly provider: ProviderId;
  readonly connectorId: string;
  readonly ruleId: string | null;
  readonly roomId: string | null;
  readonly region: string | null;
  readonly from: string;
  readonly to: string;
  readonly status: CallStatus;
  readonly startedAt: string;
  readonly answeredAt: string | null;
  readonly endedAt: string | null;
  readonly durationSeconds: number | null;
  readonly hangupReason: string | null;
  /** Null when the call's rule has no agent. */
  readonly agentStatus: AgentStatus | null;
  readonly claimRef: string | null;
  /** From the routing rule that took the call: the caller's number is shown masked (`maskNumber`) outside the record. */
  readonly hidePhoneNumber: boolean;
}

export type CallView = Omit<CallRecord, 'tenant' | 'claimRef' | 'hidePhoneNumber'>;

export function toCallView({ tenant: _tenant, claimRef: _claimRef, hidePhoneNumber: _hidePhoneNumber, ...view }: CallRecord): CallView {
  return view;
}

/** A phone number with all but a leading `+` and its last 4 digits as `*`: `+14155550100` -> `+*******0100`. */
export function maskNumber(number: string): string {
  const plus = number.startsWith('+') ? '+' : '';
  const rest = number.slice(plus.length);
  return plus + '*'.repeat(Math.max(0, rest.length - 4)) + rest.slice(-4);
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * The call's id follows from its CallUUID (100 bits of its SHA-256), so a retried Answer URL request
 * finds the record its first attempt wrote with one conditional write, no lookup index.
 */
export function callIdFor(callUuid: string): string {
  const digest = createHash('sha256').update(callUuid, 'utf8').digest();
  let out = '';
  for (let i = 0; i < 20; i++) {
    const bit = i * 5;
    const value = ((digest.readUInt16BE(bit >> 3) >> (11 - (bit & 7))) & 31) >>> 0;
    out += CROCKFORD[value];
  }
  return `call_${out}`;
}
