import type { CallView } from '../../core/calls/model';

/** A call as the call log shows it, its `additionalDetails` (CallUUID, hangup reason, …) also spread at the top level. */
export type FlatCall = CallView & CallView['additionalDetails'];

/** What tests match calls on: their `callUuid`, `hangupReason`, `agentStatus` without the nesting. */
export const flatCall = (call: CallView): FlatCall => ({ ...call, ...call.additionalDetails });

/** The calls of a `GET /v2/sip/call` answer, flattened. */
export const flatCalls = (body: { data: unknown }): FlatCall[] => (body.data as CallView[]).map(flatCall);
