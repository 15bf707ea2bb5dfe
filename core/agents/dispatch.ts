import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { DynamoDocumentStore, type TenantDocument } from '../documents';
import { num, type Item } from '../dynamo';
import { AGENT_ID, DISPATCH_JOB_ID } from '../ids';
import { MAX_METADATA_BYTES, metadataSchema } from './schema';

/**
 * Agent dispatch (`POST /v2/agent/dispatch`): a registered agent dialled into a room now, with no call. The API records
 * a job (`pending`) and hands it to the media server holding the room (or, for a room live nowhere, to a serving media
 * server of the home region, which places it); that server dials the agent and records the outcome, `dispatched` or
 * `failed` with a reason. Nothing of it is per audio frame.
 */

/** A job's statuses, in order: `pending` until the media server dialled the agent, then one of the others, once. */
export const DISPATCH_STATUSES = ['pending', 'dispatched', 'failed'] as const;
export type DispatchStatus = (typeof DISPATCH_STATUSES)[number];

/** Why a dispatch failed (`reason`), each as docs/room-protocol.md lists it. */
export const DISPATCH_FAILURES = {
  unreachable: 'the agent could not be connected: every attempt (three, with backoff) was refused, timed out, closed at once, or its address is not public',
  'room-full': 'the room had no seat left (MAX_PARTICIPANTS_PER_ROOM)',
  'room-limit': "the tenant had MAX_ROOMS_PER_TENANT rooms on the room's media server",
  'connection-limit': "the tenant had MAX_CONNECTIONS_PER_TENANT connections on the room's media server",
  'server-full': "the room's media server had MAX_CONNECTIONS connections",
  'room-deactivated': 'the room was deactivated before the agent joined',
  unavailable: 'the room could not be placed, or the media server could not be told (the table or the server unavailable)',
  expired: 'the media server took the dispatch after it lapsed (10 s): it was in trouble',
  timeout: 'no outcome within 30 s of the request: the media server died or never took it',
} as const;
export type DispatchFailure = keyof typeof DISPATCH_FAILURES;

/**
 * A job still pending this long after it was made has failed (`timeout`), whatever comes later: its command lapses after
 * 10 s (COMMAND_TTL_MS) and a dial takes at most about 14 s (three connects of 3 s, 1.25 s of backoff, 1 s settling).
 */
export const DISPATCH_TIMEOUT_MS = 30_000;

const roomId = z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`);

/** VideoSDK's body: `roomId` or `meetingId` (its two names for a room), or both when they are equal. */
export const dispatchAgentSchema = z
  .strictObject({
    agentId: z.string().regex(AGENT_ID, 'must be an agent id (ag_ followed by 16 characters)'),
    roomId: roomId.optional().meta({ description: 'The room the agent joins (VideoSDK also calls it `meetingId`)' }),
    meetingId: roomId.optional().meta({ description: 'The same as `roomId`; both may be given when they are equal' }),
    metadata: metadataSchema(MAX_METADATA_BYTES).optional().meta({ description: "Laid over the agent's own `metadata` in its `joined`" }),
  })
  .superRefine((body, ctx) => {
    if (body.roomId === undefined && body.meetingId === undefined) ctx.addIssue({ code: 'custom', path: ['roomId'], message: 'is required (or meetingId)' });
    else if (body.roomId !== undefined && body.meetingId !== undefined && body.roomId !== body.meetingId) {
      ctx.addIssue({ code: 'custom', path: ['meetingId'], message: 'must equal roomId when both are given' });
    }
  })
  .meta({ id: 'AgentDispatch' });
export type DispatchAgentInput = z.output<typeof dispatchAgentSchema>;

const jobFields = {
  jobId: z.string().regex(DISPATCH_JOB_ID),
  status: z.enum(DISPATCH_STATUSES),
  roomId: z.string(),
  agentId: z.string().regex(AGENT_ID),
};

/** What `POST /v2/agent/dispatch` answers in `data`: VideoSDK's fields. */
export const dispatchAcceptedSchema = z.strictObject({ success: z.literal(true), ...jobFields }).meta({ id: 'AgentDispatchAccepted' });

/** A dispatch job as `GET /v2/agent/dispatch/{jobId}` shows it. */
export const dispatchJobSchema = z
  .strictObject({
    ...jobFields,
    reason: z.enum(Object.keys(DISPATCH_FAILURES) as [DispatchFailure, ...DispatchFailure[]]).optional().meta({ description: 'Why it `failed`' }),
    participantId: z.string().optional().meta({ description: "The agent's participant id in the room, once `dispatched`" }),
    metadata: z.record(z.string(), z.unknown()).optional(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'AgentDispatchJob' });
export type DispatchJobView = z.output<typeof dispatchJobSchema>;

/** A dispatch job as stored: the view's fields, and when it times out. */
export interface DispatchJob extends TenantDocument {
  readonly agentId: string;
  readonly roomId: string;
  readonly status: DispatchStatus;
  readonly reason?: DispatchFailure;
  readonly participantId?: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Epoch ms after which a job still `pending` is `failed` (`timeout`). */
  readonly deadlineMs: number;
}

/** What the media server dialling a job's agent records: it answered (`participantId`), or why it did not. */
export type DispatchOutcome = { readonly status: 'dispatched'; readonly participantId: string } | { readonly status: 'failed'; readonly reason: DispatchFailure };

/** The job as shown at `nowMs`: one pending past its deadline has failed (`timeout`), though nobody wrote that. */
export function toDispatchJobView({ id, tenant: _tenant, deadlineMs, status, ...rest }: DispatchJob, nowMs: number = Date.now()): DispatchJobView {
  const lapsed = status === 'pending' && nowMs > deadlineMs;
  return { jobId: id, ...rest, status: lapsed ? 'failed' : status, ...(lapsed && { reason: 'timeout' as const }) };
}

/**
 * Jobs in the control table under their tenant's partition (`DISPATCH#jobId`), each one document, kept as long as call
 * records (`CALL_RETENTION_DAYS`, by DynamoDB TTL). The API creates one; the media server that dials its agent records
 * the outcome, once, with a write conditional on the version it read (`settle`).
 */
export class DynamoDispatchJobStore extends DynamoDocumentStore<DispatchJob> {
  constructor(
    dynamo: DynamoDBClient,
    tableName: string,
    private readonly retentionDays: number,
  ) {
    super(dynamo, tableName, { prefix: 'DISPATCH#', type: 'agent-dispatch' });
  }

  protected override toItem(job: DispatchJob): Item {
    return { ...super.toItem(job), expiresAt: num(Math.ceil(Date.parse(job.createdAt) / 1000) + this.retentionDays * 86400) };
  }

  /**
   * Records the job's outcome: `dispatched` (as `participantId`) or `failed` (`reason`). Only a job still pending and
   * within its deadline changes; false otherwise (it had timed out, or has another outcome already). A job that has this
   * very outcome answers true: a retried write whose first try landed (one media server dials a job's agent).
   */
  async settle(tenant: string, jobId: string, outcome: DispatchOutcome): Promise<boolean> {
    const job = await this.get(tenant, jobId);
    if (job?.status === outcome.status && (outcome.status === 'dispatched' ? job.participantId === outcome.participantId : job.reason === outcome.reason)) return true;
    const now = Date.now();
    if (!job || job.status !== 'pending' || now > job.deadlineMs) return false;
    const updatedAt = new Date(Math.max(now, Date.parse(job.updatedAt) + 1)).toISOString();
    return this.replace({ ...job, ...outcome, updatedAt }, job.updatedAt);
  }
}
