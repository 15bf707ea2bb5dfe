import { z } from 'zod';
import { PROVIDER_IDS } from '../providers';
import { AGENT_STATUSES, CALL_STATUSES } from './model';

const timestamp = z.iso.datetime();

/** A call record as the API and webhook payloads show it (`CallView`). */
export const callViewSchema = z
  .strictObject({
    id: z.string().regex(/^call_[0-9a-z]{20}$/),
    callUuid: z.string(),
    provider: z.enum(PROVIDER_IDS),
    connectorId: z.string(),
    ruleId: z.string().nullable(),
    roomId: z.string().nullable(),
    region: z.string().nullable(),
    from: z.string(),
    to: z.string(),
    status: z.enum(CALL_STATUSES),
    startedAt: timestamp,
    answeredAt: timestamp.nullable(),
    endedAt: timestamp.nullable(),
    durationSeconds: z.number().nullable(),
    hangupReason: z.string().nullable(),
    agentStatus: z.enum(AGENT_STATUSES).nullable(),
  })
  .meta({ id: 'Call' });
