import { callIdFor, type CallRecord, type CallView } from '../../core/calls/model';

/** A call as the call log shows it, its `additionalDetails` (CallUUID, hangup reason, …) also spread at the top level. */
export type FlatCall = CallView & CallView['additionalDetails'];

/** What tests match calls on: their `callUuid`, `hangupReason`, `agentStatus` without the nesting. */
export const flatCall = (call: CallView): FlatCall => ({ ...call, ...call.additionalDetails });

/** The calls of a `GET /v2/sip/call` answer, flattened. */
export const flatCalls = (body: { data: unknown }): FlatCall[] => (body.data as CallView[]).map(flatCall);

/** When the test calls of `endedCall` start: the `i`th a minute after the one before. */
export const CALLS_FROM = '2026-01-01T00:00:00.000Z';
const BASE = Date.parse(CALLS_FROM);
/** The CallUUID of the `i`th test call. */
export const callUuid = (i: number) => `5e3f7c1a-0000-4000-8000-${String(i).padStart(12, '0')}`;

/**
 * The `i`th test call of `tenant`, ended as the media server leaves it: three timelog entries, an answer, a hangup
 * reason (about 720 bytes), in room `room-${i % 7}`.
 */
export function endedCall(tenant: string, i: number): CallRecord {
  const at = (s: number) => new Date(BASE + i * 60_000 + s * 1000).toISOString();
  return {
    id: callIdFor(`${tenant}-${i}`),
    tenant,
    type: 'inbound',
    callUuid: callUuid(i),
    provider: 'plivo',
    connectorId: 'cn_1m7zrqp6tevwckb1',
    ruleId: 'rr_1m7zrqp6tevwckb2',
    roomId: `room-${i % 7}`,
    region: 'us002',
    from: '+14155550100',
    to: '+14155550111',
    hidePhoneNumber: false,
    status: 'ended',
    timelog: [
      { status: 'incoming', at: at(0) },
      { status: 'answered', at: at(1) },
      { status: 'ended', at: at(40) },
    ],
    startedAt: at(0),
    answeredAt: at(1),
    endedAt: at(40),
    durationSeconds: 39,
    hangupReason: 'caller-hangup',
    hangupCause: null,
    agentStatus: null,
    stream: null,
    claimRef: null,
    metadata: {},
  };
}
