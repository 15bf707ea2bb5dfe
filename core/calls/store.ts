import { GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue, type UpdateItemCommandInput, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS, conditionalUpdate, conditionalWrite, db, dueAttributes, getByKeys, isConditionFailure, num, readAtMost, readOptNum, readOptStr, readStr, str, type Item } from '../dynamo';
import { latestEventAt, type CallEventType } from '../events';
import { COMMAND_TTL_MS } from '../media-commands';
import { cappedPage, type NumberedPage, type PageRequest } from '../pagination';
import type { ProviderId } from '../providers';
import { CALL_STATUSES, LIVE_STATUSES, STREAMING_STATUSES, TRANSFER_STEPS, isRoomEntry, type AgentStatus, type CallParticipant, type CallTransfer, type TransferStatus, type CallRecord, type CallRoomEntry, type CallStatus, type CallStatusEntry, type CallTimelogEntry, type CallType, type RoomTimelogEvent, type StreamHealth, type StreamTimelogEvent, type SwitchFailure } from './model';
import type { CallFilter } from './schema';

/** What a transfer step may set beside the call's status. */
export interface TransferFields {
  readonly transfer?: CallTransfer;
  readonly claimRef?: string;
}

export interface CallEnd {
  readonly endedAt: string;
  readonly durationSeconds: number | null;
  readonly hangupReason: string;
  /** Plivo's `HangupCauseCode`, when its hangup callback ended the call. */
  readonly hangupCause?: string;
}

/** A call's end now, its duration counted from its answer (none when it was never answered). */
export function callEnd(hangupReason: string, answeredAtMs: number | null, endedAt = new Date()): CallEnd {
  const durationSeconds = answeredAtMs === null ? null : Math.max(0, Math.round((endedAt.getTime() - answeredAtMs) / 1000));
  return { endedAt: endedAt.toISOString(), durationSeconds, hangupReason };
}

/** One of Plivo's stream status reports, as the call record takes it. */
export interface StreamReport {
  /** A start or a stop goes to the timelog; a degradation or a drop to the call's `stream`. */
  readonly kind: StreamTimelogEvent | StreamHealth['status'];
  readonly streamId: string;
  /** The same for a retry of a report, different for every other report of the call (event, stream, Plivo's time). */
  readonly key: string;
  /** When the connector heard of it (ISO). */
  readonly at: string;
}

/**
 * A call records this many stream reports at most, then ignores more: its timelog and its set of report keys
 * stay bounded (a stream makes up to 5: a start, three degradations, a stop), whatever a caller posts.
 */
export const MAX_STREAM_REPORTS = 64;

/** A call is switched between rooms this many times at most (each adds two timelog entries): its record stays bounded. */
export const MAX_ROOM_SWITCHES = 50;
/** The recordings one call names at most: one in each room it is in (a call recording is made per room it is recorded in). */
export const MAX_CALL_RECORDINGS = MAX_ROOM_SWITCHES + 1;

/**
 * A switch of rooms still without its outcome this long after it was asked for is failed (`timeout`) by the sweeper:
 * its media server takes a command within a second or reports it `expired` after COMMAND_TTL_MS, so only a server that
 * died, or lost the command, leaves it this long.
 */
export const SWITCH_ROOM_TIMEOUT_MS = 3 * COMMAND_TTL_MS;

/** One change of a call whose event waits in the outbox: the event's type, and when the change happened (ISO). */
export interface PendingEvent {
  readonly type: CallEventType;
  readonly at: string;
}

/**
 * Storage port for call records, scoped to one tenant. Each write that changes a call's state can also record, in
 * the same write, that the change's event is yet to be published (`call-started` or, refused, `call-hangup` on
 * create; `call-answered`, `call-hangup`, `call-missed`, `call-update`, a transfer's or a switch of rooms' event): a
 * crash before the event is recorded for the webhooks leaves the call listed by `unpublished`, and the sweeper
 * publishes it. The outbox names each change (`PendingEvent`: its type and time), so two changes of one type (a call
 * switched twice, answered again after a failed transfer) wait, and are recorded, each on its own. Every move appends
 * its status to the call's `timelog`. A write outboxes when `outbox` is true (the default); a writer that knows no
 * webhook of the tenant subscribes to the event passes false, and then neither the write nor `eventRecorded` touches
 * the outbox.
 */
export interface CallStore {
  /**
   * Writes a new record; false when the call already has one (a retried Answer URL request). An incoming
   * call that is still incoming at `missedAt` (its stream never came) is listed by `overdue` from then.
   */
  create(record: CallRecord, retentionDays: number, missedAt?: string, outbox?: boolean): Promise<boolean>;
  get(tenant: string, id: string): Promise<CallRecord | null>;
  /**
   * Moves an incoming call to answered (its stream joined the room on media server `serverId`); null unless it
   * was incoming. Until it ends, the call is listed by `overdue('server#<serverId>')`: if that server dies,
   * the sweeper closes it.
   */
  answer(tenant: string, id: string, answeredAt: string, serverId: string, outbox?: boolean): Promise<CallRecord | null>;
  /** An outbound call (bound to its CallUUID) rings: `initiated` -> `ringing`; null when it was not `initiated`. */
  ring(tenant: string, id: string, at: string, outbox?: boolean): Promise<CallRecord | null>;
  /**
   * Binds an outbound call to Plivo's CallUUID when its first callback (through `connectorId`'s Answer URL) names it:
   * the call as it is then, or null when it is bound to another CallUUID, belongs to another connector, or there is no
   * such call. Changes nothing else.
   */
  bindCallUuid(tenant: string, id: string, callUuid: string, connectorId: string): Promise<CallRecord | null>;
  /** Records the Make Call's `request_uuid` of an outbound call (what `POST /v2/sip/call/end` cancels it by until it has a CallUUID). */
  placed(tenant: string, id: string, requestUuid: string): Promise<void>;
  /** Ends a live call (`ended`): one not answered yet too (an outbound call ended by the API); null when there is none, or it had already ended. */
  end(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /** The call's stream ended (its media server says): ends it unless it is being transferred (its stream left for that). */
  streamEnded(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /**
   * A step of the call's transfer: moves it to `to` from where that step may come (`TRANSFER_STEPS`; `transfer-initiated`
   * also needs no switch of rooms pending), firing that status's event. `transfer` is set
   * when given (the transfer starting, or failing with its outcome); `claimRef` replaces the call's claim ref (the
   * caller coming back into its room after a failed transfer: a new stream, a new claim).
   */
  transferStep(tenant: string, id: string, to: TransferStatus, at: string, outbox: boolean, set?: TransferFields): Promise<CallRecord | null>;
  /**
   * Says why a live call is about to end (`reason`, e.g. `api` before Plivo is asked to hang it up): whichever end then
   * records it (the stream's close may come first) takes that reason. Null when the call is not live.
   */
  requestHangup(tenant: string, id: string, reason: string): Promise<CallRecord | null>;
  /** Takes back a `requestHangup` whose hangup did not happen (Plivo refused it). */
  withdrawHangup(tenant: string, id: string): Promise<void>;
  /** Ends a call still waiting for its stream as `abandoned` (Plivo hung up first); null unless it was incoming. */
  abandon(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /** Ends an outbound call that was never answered (`not-answered`, `failed`); null unless it was `initiated` or `ringing`. */
  unanswered(tenant: string, id: string, status: 'not-answered' | 'failed', end: CallEnd, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /** Ends a call still waiting for its stream as `missed`; null when it was answered or ended meanwhile. */
  miss(tenant: string, id: string, endedAt: string, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /** The event's deliveries are recorded: the call no longer waits for it (only for that change: others of its type still wait). */
  eventRecorded(tenant: string, id: string, event: PendingEvent): Promise<void>;
  /** Takes the call out of the outbox index when it waits for no event, unless a state change added one meanwhile. */
  leaveOutbox(tenant: string, id: string): Promise<void>;
  /** The call and the events its state changes still wait for, oldest first; null when there is no such call. */
  pendingEvents(tenant: string, id: string): Promise<{ call: CallRecord; events: PendingEvent[] } | null>;
  /**
   * Records `report` on the call holding `callUuid`, in one conditional write: a start or a stop appends to its
   * timelog; a degradation or a drop sets its `stream`, and the call waits for `call-update` (when `outbox`). Null
   * when there is no such call, it holds another CallUUID, the report is recorded already (a retry), or the call has
   * MAX_STREAM_REPORTS already.
   */
  streamReport(tenant: string, id: string, callUuid: string, report: StreamReport, outbox?: boolean): Promise<CallRecord | null>;
  /**
   * Records a move of the answered call between rooms, the switch `switchId` (its command's id; `entry.event` fires the
   * webhook event of its name; the call waits for it when `outbox`), in one conditional write from the state the move
   * starts from. `switch-room-initiated` needs the call `answered` in room `entry.from`, no other switch pending and
   * fewer than MAX_ROOM_SWITCHES asked for before; the switch is then pending, and the call due as `switch` at
   * SWITCH_ROOM_TIMEOUT_MS (its `server#` due held meanwhile). Its outcome, `-completed` (the call still `answered` in
   * `entry.from`; `roomId` becomes `entry.to`) or `-failed`, lands once: only while `switchId` is pending, so a late
   * completion and the sweeper's timeout cannot both land; the call's due is then what it held, unless another move
   * changed it meanwhile. Null when the condition failed.
   */
  switchRoom(tenant: string, id: string, entry: CallRoomEntry, switchId: string, outbox?: boolean): Promise<CallRecord | null>;
  /** Records how dialling the call's agent went. */
  setAgentStatus(tenant: string, id: string, status: AgentStatus): Promise<void>;
  /**
   * Names a recording of the call (`additionalDetails.recordings`), in one write as its media server starts it: false
   * when there is no such call or it names MAX_CALL_RECORDINGS already.
   */
  addRecording(tenant: string, id: string, recordingId: string): Promise<boolean>;
  /**
   * One numbered page of the tenant's calls, newest first, filtered. The listing reads at most a bounded number of the
   * window's newest calls (docs/BENCHMARKS.md, "The call log"): `total` counts the matches among them, exactly when the
   * window holds no more, else as a lower bound (`pageInfo.totalIsLowerBound`).
   */
  page(tenant: string, filter: CallFilter, request: PageRequest): Promise<NumberedPage<CallRecord>>;
}

const callKey = (tenant: string, id: string) => ({ pk: str(`T#${tenant}`), sk: str(`CALL#${id}`) });
/** `callKey` as a query's `:pk`, `:sk`. */
const callKeyValues = (tenant: string, id: string): Item => {
  const { pk, sk } = callKey(tenant, id);
  return { ':pk': pk, ':sk': sk };
};
const byTime = (tenant: string, startedAt: string, id: string) => ({
  [TABLE_KEYS.byTime.partitionKey]: str(`CALLS#${tenant}`),
  [TABLE_KEYS.byTime.sortKey]: str(`${startedAt}#${id}`),
});
const expiry = (from: string, retentionDays: number) => num(Math.floor(Date.parse(from) / 1000) + retentionDays * 86400);
/** What puts a call in the `outbox` index, as of `at` (ISO): a state change whose event is not recorded yet. */
const outboxAttributes = (at: string): Item => ({ [TABLE_KEYS.outbox.partitionKey]: str('OUTBOX'), [TABLE_KEYS.outbox.sortKey]: str(at) });
/** The `pendingEvents` set holding `event`, one member per change: `type@at`. */
const pendingSet = (event: PendingEvent): AttributeValue => ({ SS: [`${event.type}@${event.at}`] });
/** The changes a call's `pendingEvents` name, oldest first. */
const readPending = (item: Item): PendingEvent[] =>
  (item.pendingEvents?.SS ?? [])
    .map((member) => {
      const at = member.indexOf('@');
      return { type: member.slice(0, at) as CallEventType, at: member.slice(at + 1) };
    })
    .sort((a, b) => a.at.localeCompare(b.at));

/** A field a move sets only when the attribute named here does not hold its value already (`requestHangup`). */
const UNLESS: Readonly<Record<string, string>> = { hangupReason: 'hangupRequested', answeredAt: 'answeredAt' };

const OPTIONAL_STRINGS = ['ruleId', 'roomId', 'region', 'answeredAt', 'endedAt', 'hangupReason', 'hangupCause', 'agentStatus', 'claimRef'] as const;

const timelogEntry = (entry: CallTimelogEntry): AttributeValue =>
  isRoomEntry(entry)
    ? { M: { event: str(entry.event), from: str(entry.from), to: str(entry.to), at: str(entry.at), ...(entry.reason && { reason: str(entry.reason) }) } }
    : 'event' in entry
      ? { M: { event: str(entry.event), streamId: str(entry.streamId), at: str(entry.at) } }
      : { M: { status: str(entry.status), at: str(entry.at) } };
const readTimelog = (item: Item): CallTimelogEntry[] =>
  (item.timelog?.L ?? []).map(({ M: entry }) =>
    entry?.from?.S !== undefined
      ? {
          event: entry.event?.S as RoomTimelogEvent,
          from: entry.from.S,
          to: entry.to?.S ?? '',
          at: entry.at?.S ?? '',
          ...(entry.reason?.S !== undefined && { reason: entry.reason.S as SwitchFailure }),
        }
      : entry?.event?.S !== undefined
        ? { event: entry.event.S as StreamTimelogEvent, streamId: entry.streamId?.S ?? '', at: entry.at?.S ?? '' }
        : { status: entry?.status?.S as CallStatus, at: entry?.at?.S ?? '' },
  );
const readStream = (item: Item): StreamHealth | null => {
  const status = readOptStr(item, 'streamStatus') as StreamHealth['status'] | null;
  return status && { status, streamId: readOptStr(item, 'streamId') ?? '', at: readOptStr(item, 'streamAt') ?? '', degradedCount: readOptNum(item, 'streamDegradedCount') ?? 0 };
};

function toItem(c: CallRecord, retentionDays: number, missedAt: string | undefined, outbox: boolean): Item {
  const event = CALL_STATUSES[c.status].event;
  const item: Item = {
    ...callKey(c.tenant, c.id),
    ...byTime(c.tenant, c.startedAt, c.id),
    type: str('call'),
    id: str(c.id),
    tenant: str(c.tenant),
    direction: str(c.type),
    ...(c.callUuid !== null && { callUuid: str(c.callUuid) }),
    ...(c.participant && { participant: str(JSON.stringify(c.participant)) }),
    ...(c.record && { record: { BOOL: true } }),
    ...(Object.keys(c.metadata).length > 0 && { metadata: { M: Object.fromEntries(Object.entries(c.metadata).map(([k, v]) => [k, str(v)])) } }),
    provider: str(c.provider),
    connectorId: str(c.connectorId),
    from: str(c.from),
    to: str(c.to),
    hidePhoneNumber: { BOOL: c.hidePhoneNumber },
    status: str(c.status),
    timelog: { L: c.timelog.map(timelogEntry) },
    startedAt: str(c.startedAt),
    expiresAt: expiry(c.endedAt ?? c.startedAt, retentionDays),
    ...(missedAt && (c.status === 'incoming' || c.status === 'initiated') && dueAttributes('call', missedAt)),
    // The change is the call's first timelog entry, which its event's timestamp names.
    ...(outbox && { pendingEvents: pendingSet({ type: event, at: latestEventAt(event, c) }), ...outboxAttributes(c.startedAt) }),
  };
  for (const field of OPTIONAL_STRINGS) {
    const value = c[field];
    if (value !== null) item[field] = str(value);
  }
  if (c.durationSeconds !== null) item.durationSeconds = num(c.durationSeconds);
  return item;
}

function fromItem(item: Item): CallRecord {
  return {
    id: readStr(item, 'id'),
    tenant: readStr(item, 'tenant'),
    type: (readOptStr(item, 'direction') ?? 'inbound') as CallType,
    callUuid: readOptStr(item, 'callUuid'),
    ...(item.requestUuid?.S !== undefined && { requestUuid: item.requestUuid.S }),
    provider: readStr(item, 'provider') as ProviderId,
    connectorId: readStr(item, 'connectorId'),
    ruleId: readOptStr(item, 'ruleId'),
    roomId: readOptStr(item, 'roomId'),
    region: readOptStr(item, 'region'),
    from: readStr(item, 'from'),
    to: readStr(item, 'to'),
    hidePhoneNumber: item.hidePhoneNumber?.BOOL ?? false,
    status: readStr(item, 'status') as CallStatus,
    timelog: readTimelog(item),
    startedAt: readStr(item, 'startedAt'),
    answeredAt: readOptStr(item, 'answeredAt'),
    endedAt: readOptStr(item, 'endedAt'),
    durationSeconds: readOptNum(item, 'durationSeconds'),
    hangupReason: readOptStr(item, 'hangupReason'),
    hangupCause: readOptStr(item, 'hangupCause'),
    agentStatus: readOptStr(item, 'agentStatus') as AgentStatus | null,
    stream: readStream(item),
    claimRef: readOptStr(item, 'claimRef'),
    metadata: Object.fromEntries(Object.entries(item.metadata?.M ?? {}).map(([k, v]) => [k, v.S ?? ''])),
    ...(item.participant?.S && { participant: JSON.parse(item.participant.S) as CallParticipant }),
    ...(item.transfer?.S && { transfer: JSON.parse(item.transfer.S) as CallTransfer }),
    ...(item.mediaServer?.S && { mediaServer: item.mediaServer.S }),
    ...(item.switchPending?.S && { pendingSwitch: item.switchPending.S }),
    ...(item.record?.BOOL === true && { record: true as const }),
    ...(item.recordings?.L && { recordings: item.recordings.L.flatMap((entry) => (entry.S === undefined ? [] : [entry.S])) }),
  };
}

/**
 * The call log reads at most this many calls of a date window a request (its newest): about 210 bytes each in the
 * `byTime` index, so at most about 52 read units and one round trip (docs/BENCHMARKS.md, "The call log").
 */
export const CALL_LOG_READ_LIMIT = 2_000;

export class DynamoCallStore implements CallStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    /** How many calls of a window a listing reads at most (`CALL_LOG_READ_LIMIT`). */
    private readonly readLimit = CALL_LOG_READ_LIMIT,
  ) {}

  async create(record: CallRecord, retentionDays: number, missedAt?: string, outbox = true): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({ TableName: this.tableName, Item: toItem(record, retentionDays, missedAt, outbox), ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async get(tenant: string, id: string): Promise<CallRecord | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: callKey(tenant, id), ConsistentRead: true })),
    );
    return out.Item ? fromItem(out.Item) : null;
  }

  answer(tenant: string, id: string, answeredAt: string, serverId: string, outbox = true): Promise<CallRecord | null> {
    // A caller back in its room after a failed transfer is answered again; its call keeps the first answer's time.
    return this.move(tenant, id, ['incoming', 'initiated', 'ringing', 'transfer-failed'], { status: 'answered', at: answeredAt }, outbox && 'call-answered', { answeredAt: str(answeredAt), mediaServer: str(serverId) }, dueAttributes(`server#${serverId}`, answeredAt));
  }

  ring(tenant: string, id: string, at: string, outbox = true): Promise<CallRecord | null> {
    // Still due: the sweeper ends it `not-answered` if no other callback ever comes.
    return this.move(tenant, id, ['initiated'], { status: 'ringing', at }, outbox && 'call-ringing', {}, 'keep');
  }

  async placed(tenant: string, id: string, requestUuid: string): Promise<void> {
    await this.update({
      Key: callKey(tenant, id),
      UpdateExpression: 'SET requestUuid = :request',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':request': str(requestUuid) },
    });
  }

  bindCallUuid(tenant: string, id: string, callUuid: string, connectorId: string): Promise<CallRecord | null> {
    return this.update({
      Key: callKey(tenant, id),
      UpdateExpression: 'SET callUuid = :uuid',
      ConditionExpression: 'attribute_exists(pk) AND connectorId = :connector AND (attribute_not_exists(callUuid) OR callUuid = :uuid)',
      ExpressionAttributeValues: { ':uuid': str(callUuid), ':connector': str(connectorId) },
    });
  }

  end(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, LIVE_STATUSES, { status: 'ended', at: end.endedAt }, outbox && 'call-hangup', endFields(end, retentionDays));
  }

  streamEnded(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, STREAMING_STATUSES, { status: 'ended', at: end.endedAt }, outbox && 'call-hangup', endFields(end, retentionDays));
  }

  transferStep(tenant: string, id: string, to: TransferStatus, at: string, outbox: boolean, set: TransferFields = {}): Promise<CallRecord | null> {
    const fields: Item = { ...(set.transfer && { transfer: str(JSON.stringify(set.transfer)) }), ...(set.claimRef && { claimRef: str(set.claimRef) }) };
    // A transfer does not start while a switch of rooms awaits its outcome: that outcome needs the call in its room.
    return this.move(tenant, id, TRANSFER_STEPS[to], { status: to, at }, outbox && CALL_STATUSES[to].event, fields, undefined, to === 'transfer-initiated' ? 'switchPending' : undefined);
  }

  requestHangup(tenant: string, id: string, reason: string): Promise<CallRecord | null> {
    return this.update({
      Key: callKey(tenant, id),
      UpdateExpression: 'SET hangupRequested = :reason',
      ConditionExpression: `#status IN (${LIVE_STATUSES.map((_, i) => `:live${i}`).join(', ')})`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':reason': str(reason), ...Object.fromEntries(LIVE_STATUSES.map((status, i) => [`:live${i}`, str(status)])) },
    });
  }

  async withdrawHangup(tenant: string, id: string): Promise<void> {
    await this.update({ Key: callKey(tenant, id), UpdateExpression: 'REMOVE hangupRequested', ConditionExpression: 'attribute_exists(pk)' });
  }

  unanswered(tenant: string, id: string, status: 'not-answered' | 'failed', end: CallEnd, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, ['initiated', 'ringing'], { status, at: end.endedAt }, outbox && CALL_STATUSES[status].event, endFields(end, retentionDays));
  }

  abandon(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, ['incoming'], { status: 'abandoned', at: end.endedAt }, outbox && 'call-hangup', endFields(end, retentionDays));
  }

  miss(tenant: string, id: string, endedAt: string, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, ['incoming'], { status: 'missed', at: endedAt }, outbox && 'call-missed', endFields({ endedAt, durationSeconds: null, hangupReason: 'claim-expired' }, retentionDays));
  }

  async eventRecorded(tenant: string, id: string, event: PendingEvent): Promise<void> {
    const out = await db(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: callKey(tenant, id),
          UpdateExpression: 'DELETE pendingEvents :event',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':event': pendingSet(event) },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (!out.Attributes?.pendingEvents) await this.leaveOutbox(tenant, id);
  }

  async leaveOutbox(tenant: string, id: string): Promise<void> {
    try {
      await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: callKey(tenant, id),
            UpdateExpression: 'REMOVE #opk, #osk',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(pendingEvents)',
            ExpressionAttributeNames: { '#opk': TABLE_KEYS.outbox.partitionKey, '#osk': TABLE_KEYS.outbox.sortKey },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async pendingEvents(tenant: string, id: string): Promise<{ call: CallRecord; events: PendingEvent[] } | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: callKey(tenant, id), ConsistentRead: true })),
    );
    return out.Item ? { call: fromItem(out.Item), events: readPending(out.Item) } : null;
  }

  async streamReport(tenant: string, id: string, callUuid: string, report: StreamReport, outbox = true): Promise<CallRecord | null> {
    const trouble = report.kind === 'degraded' || report.kind === 'dropped';
    const event = trouble && outbox;
    const set = trouble
      ? ['streamStatus = :kind', 'streamId = :streamId', 'streamAt = :at', ...(event ? ['#opk = :opk', '#osk = :osk'] : [])]
      : ['#timelog = list_append(if_not_exists(#timelog, :none), :entry)'];
    const add = ['streamReports :reports', ...(report.kind === 'degraded' ? ['streamDegradedCount :one'] : []), ...(event ? ['pendingEvents :event'] : [])];
    const values: Item = trouble
      ? { ':kind': str(report.kind), ':streamId': str(report.streamId), ':at': str(report.at), ...(event && { ':opk': str('OUTBOX'), ':osk': str(report.at), ':event': pendingSet({ type: 'call-update', at: report.at }) }) }
      : { ':none': { L: [] }, ':entry': { L: [timelogEntry({ event: report.kind, streamId: report.streamId, at: report.at })] } };
    if (report.kind === 'degraded') values[':one'] = num(1);
    return this.update({
      Key: callKey(tenant, id),
      UpdateExpression: `SET ${set.join(', ')} ADD ${add.join(', ')}`,
      ConditionExpression: 'callUuid = :callUuid AND (attribute_not_exists(streamReports) OR (NOT contains(streamReports, :key) AND size(streamReports) < :max))',
      ExpressionAttributeNames: trouble ? (event ? { '#opk': TABLE_KEYS.outbox.partitionKey, '#osk': TABLE_KEYS.outbox.sortKey } : undefined) : { '#timelog': 'timelog' },
      ExpressionAttributeValues: { ...values, ':callUuid': str(callUuid), ':reports': { SS: [report.key] }, ':key': str(report.key), ':max': num(MAX_STREAM_REPORTS) },
    });
  }

  async switchRoom(tenant: string, id: string, entry: CallRoomEntry, switchId: string, outbox = true): Promise<CallRecord | null> {
    const initiated = entry.event === 'switch-room-initiated';
    const completed = entry.event === 'switch-room-completed';
    const set = ['#timelog = list_append(if_not_exists(#timelog, :none), :entry)', ...(completed ? ['roomId = :to'] : []), ...(outbox ? ['#opk = :opk', '#osk = :osk'] : [])];
    const add = [...(initiated ? ['roomSwitches :one'] : []), ...(outbox ? ['pendingEvents :event'] : [])];
    const live = '#status = :answered AND roomId = :from';
    const switchDue = dueAttributes('switch', new Date(Date.parse(entry.at) + SWITCH_ROOM_TIMEOUT_MS).toISOString());
    const names: Record<string, string> = { '#timelog': 'timelog', '#status': 'status', '#duePk': TABLE_KEYS.due.partitionKey, '#dueSk': TABLE_KEYS.due.sortKey, '#opk': TABLE_KEYS.outbox.partitionKey, '#osk': TABLE_KEYS.outbox.sortKey };
    const values: Item = {
      ':none': { L: [] },
      ':entry': { L: [timelogEntry(entry)] },
      ':switch': str(switchId),
      ':switchDue': switchDue[TABLE_KEYS.due.partitionKey] as AttributeValue,
      ':switchAt': switchDue[TABLE_KEYS.due.sortKey] as AttributeValue,
      ':answered': str('answered'),
      ':from': str(entry.from),
      ':to': str(entry.to),
      ':one': num(1),
      ':max': num(MAX_ROOM_SWITCHES),
      ':opk': str('OUTBOX'),
      ':osk': str(entry.at),
      ':event': pendingSet({ type: entry.event, at: entry.at }),
    };
    const write = (update: string, condition: string) => {
      // DynamoDB refuses names and values an expression does not use: each write passes those it does.
      const expression = `${update}${add.length ? ` ADD ${add.join(', ')}` : ''}`;
      const uses = (key: string) => new RegExp(`${key}(?![\\w])`).test(`${expression} ${condition}`);
      return this.update({
        Key: callKey(tenant, id),
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: Object.fromEntries(Object.entries(names).filter(([key]) => uses(key))),
        ExpressionAttributeValues: Object.fromEntries(Object.entries(values).filter(([key]) => uses(key))),
      });
    };
    if (initiated) {
      // The call's `server#` due is held while the switch's is in its place: an item is in one place of the index.
      return write(
        `SET ${[...set, 'switchPending = :switch', 'heldDuePk = #duePk', 'heldDueSk = #dueSk', '#duePk = :switchDue', '#dueSk = :switchAt'].join(', ')}`,
        `${live} AND attribute_not_exists(switchPending) AND attribute_exists(#duePk) AND (attribute_not_exists(roomSwitches) OR roomSwitches < :max)`,
      );
    }
    const pending = `switchPending = :switch${completed ? ` AND ${live}` : ''}`;
    const settle = 'REMOVE switchPending, heldDuePk, heldDueSk';
    // The held due comes back while the switch's is still in its place; a move since (the call ended, say) set the due itself.
    return (
      (await write(`SET ${[...set, '#duePk = heldDuePk', '#dueSk = heldDueSk'].join(', ')} ${settle}`, `${pending} AND #duePk = :switchDue`)) ??
      write(`SET ${set.join(', ')} ${settle}`, `${pending} AND (attribute_not_exists(#duePk) OR #duePk <> :switchDue)`)
    );
  }

  async setAgentStatus(tenant: string, id: string, status: AgentStatus): Promise<void> {
    await db(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: callKey(tenant, id),
          UpdateExpression: 'SET agentStatus = :status',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':status': str(status) },
        }),
      ),
    );
  }

  addRecording(tenant: string, id: string, recordingId: string): Promise<boolean> {
    return conditionalWrite(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: callKey(tenant, id),
          UpdateExpression: 'SET recordings = list_append(if_not_exists(recordings, :none), :id)',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(recordings) OR size(recordings) < :max)',
          ExpressionAttributeValues: { ':none': { L: [] }, ':id': { L: [str(recordingId)] }, ':max': num(MAX_CALL_RECORDINGS) },
        }),
      ),
    );
  }

  /**
   * Moves a call to `to.status`, setting `fields` and appending `to` to its timelog, if it is in one of `from` (one
   * conditional write); null when there is no such call or it was in another state. A call that moves is no longer due, unless
   * `due` puts it under another kind of due work (or says to `keep` it as it is); it waits for `event`, if any, of this
   * change (at `to.at`) to be published (the outbox index). `unless` names an attribute whose presence refuses the move.
   */
  private async move(tenant: string, id: string, from: readonly CallStatus[], to: CallStatusEntry, event: CallEventType | false, set: Item, due?: Item | 'keep', unless?: string): Promise<CallRecord | null> {
    const fields = { ...set, ...(due !== 'keep' && due), ...(event && outboxAttributes(new Date().toISOString())) };
    const names = Object.keys(fields);
    const values: Item = { ':status': str(to.status), ':entry': { L: [timelogEntry(to)] }, ':none': { L: [] }, ...(event && { ':event': pendingSet({ type: event, at: to.at }) }) };
    from.forEach((state, i) => (values[`:from${i}`] = str(state)));
    names.forEach((name, i) => (values[`:v${i}`] = fields[name] as Item[string]));
    return this.update({
      Key: callKey(tenant, id),
      UpdateExpression: `${['SET #status = :status', '#timelog = list_append(if_not_exists(#timelog, :none), :entry)', ...names.map((name, i) => (UNLESS[name] ? `#f${i} = if_not_exists(#u${i}, :v${i})` : `#f${i} = :v${i}`))].join(', ')}${event ? ' ADD pendingEvents :event' : ''}${due ? '' : ' REMOVE #duePk, #dueSk'}`,
      ConditionExpression: `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})${unless ? ' AND attribute_not_exists(#unless)' : ''}`,
      ExpressionAttributeNames: {
        '#status': 'status',
        ...(unless && { '#unless': unless }),
        '#timelog': 'timelog',
        ...(!due && { '#duePk': TABLE_KEYS.due.partitionKey, '#dueSk': TABLE_KEYS.due.sortKey }),
        ...Object.fromEntries(names.map((name, i) => [`#f${i}`, name])),
        ...Object.fromEntries(names.flatMap((name, i) => (UNLESS[name] ? [[`#u${i}`, UNLESS[name]]] : []))),
      },
      ExpressionAttributeValues: values,
    });
  }

  /** One conditional update of a call, answering the call as it is now; null when the condition failed. */
  private async update(input: Omit<UpdateItemCommandInput, 'TableName' | 'ReturnValues'>): Promise<CallRecord | null> {
    const item = await conditionalUpdate(this.dynamo, this.tableName, input);
    return item && fromItem(item);
  }

  page(tenant: string, filter: CallFilter, request: PageRequest): Promise<NumberedPage<CallRecord>> {
    const { condition, names, values } = filterExpression(filter);
    const window = { ':from': str(filter.startDate ?? '0'), ':to': str(`${filter.endDate ?? '9'}#~`) };
    if (filter.id !== undefined) {
      // One call at most: read whole by its key (1 RCU), however old, with the window and the other filters applied.
      const byId: QueryCommandInput = {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        FilterExpression: `${condition} AND startedAt BETWEEN :from AND :to`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...callKeyValues(tenant, filter.id), ...window, ...values },
      };
      // A limit of 2 where one call can exist: a read the call's item filled would leave DynamoDB unsure it was the last.
      return cappedPage(request, () => readAtMost(this.dynamo, byId, 2), (items) => Promise.resolve(items.map(fromItem)));
    }
    const query: QueryCommandInput = {
      TableName: this.tableName,
      IndexName: TABLE_KEYS.byTime.indexName,
      KeyConditionExpression: '#gpk = :gpk AND #gsk BETWEEN :from AND :to',
      ...(condition && { FilterExpression: condition }),
      // The base table's keys, which every index entry carries: the page's calls are read by them.
      ProjectionExpression: 'pk, sk',
      ExpressionAttributeNames: { '#gpk': TABLE_KEYS.byTime.partitionKey, '#gsk': TABLE_KEYS.byTime.sortKey, ...names },
      // Sort keys are `startedAt#id`: `~` sorts after every id, so a call started at `endDate` is in.
      ExpressionAttributeValues: { ':gpk': str(`CALLS#${tenant}`), ...window, ...values },
      ScanIndexForward: false,
    };
    return cappedPage(
      request,
      () => readAtMost(this.dynamo, query, this.readLimit),
      async (keys) => (await getByKeys(this.dynamo, this.tableName, keys)).map(fromItem),
    );
  }
}

/** The fields every end of a call sets. */
const endFields = (end: CallEnd, retentionDays: number): Item => ({
  endedAt: str(end.endedAt),
  hangupReason: str(end.hangupReason),
  expiresAt: expiry(end.endedAt, retentionDays),
  ...(end.durationSeconds !== null && { durationSeconds: num(end.durationSeconds) }),
  ...(end.hangupCause && { hangupCause: str(end.hangupCause) }),
});

/** The listing's filters other than the date window, as one FilterExpression. */
function filterExpression(filter: CallFilter): { condition: string; names: Record<string, string>; values: Item } {
  const names: Record<string, string> = {};
  const values: Item = {};
  const conditions: string[] = [];
  const equals = { roomId: filter.roomId, id: filter.id, ruleId: filter.ruleId, direction: filter.type };
  for (const [field, value] of Object.entries(equals)) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    values[`:${field}`] = str(value);
    conditions.push(`#${field} = :${field}`);
  }
  if (filter.search !== undefined) {
    Object.assign(names, { '#sRoom': 'roomId', '#sFrom': 'from', '#sTo': 'to', '#sHide': 'hidePhoneNumber' });
    Object.assign(values, { ':search': str(filter.search), ':shown': { BOOL: false } });
    // A hidden number is not searched: a match on it would tell what it is.
    conditions.push('(contains(#sRoom, :search) OR (#sHide = :shown AND (contains(#sFrom, :search) OR contains(#sTo, :search))))');
  }
  return { condition: conditions.join(' AND '), names, values };
}

/**
 * Ends a call whose media server was lost, with its duration from the recorded answer: null when it had
 * ended already (its stream's own server, or Plivo's hangup callback, got there first).
 */
export async function endAsMediaFailure(calls: CallStore, tenant: string, id: string, retentionDays: number, outbox: boolean): Promise<CallRecord | null> {
  const answeredAt = (await calls.get(tenant, id))?.answeredAt;
  return calls.streamEnded(tenant, id, callEnd('media-failure', answeredAt ? Date.parse(answeredAt) : null), retentionDays, outbox);
}
