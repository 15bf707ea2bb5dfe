import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS, db, dueAttributes, isConditionFailure, num, readOptNum, readOptStr, readStr, str, type Item } from '../dynamo';
import type { CallEventType } from '../events';
import type { ProviderId } from '../providers';
import type { AgentStatus, CallRecord, CallStatus } from './model';

export interface CallFilter {
  readonly connectorId?: string;
  readonly status?: CallStatus;
  readonly roomId?: string;
}

/** Where a listing stopped: the last record's start time and id. */
export interface CallPosition {
  readonly startedAt: string;
  readonly id: string;
}

export interface CallPage {
  readonly items: readonly CallRecord[];
  readonly next: CallPosition | null;
}

export interface CallEnd {
  readonly endedAt: string;
  readonly durationSeconds: number | null;
  readonly hangupReason: string;
}

/** A call's end now, its duration counted from its answer (none when it was never answered). */
export function callEnd(hangupReason: string, answeredAtMs: number | null, endedAt = new Date()): CallEnd {
  const durationSeconds = answeredAtMs === null ? null : Math.max(0, Math.round((endedAt.getTime() - answeredAtMs) / 1000));
  return { endedAt: endedAt.toISOString(), durationSeconds, hangupReason };
}

/**
 * Storage port for call records, scoped to one tenant. Each write that changes a call's state can also record, in
 * the same write, that the change's event is yet to be published (`call-started` or, refused, `call-hangup` on
 * create; `call-answered`, `call-hangup`, `call-missed`): a crash before the event is recorded for the webhooks
 * leaves the call listed by `unpublished`, and the sweeper publishes it. It does when `outbox` is true (the
 * default); a writer that knows no webhook of the tenant subscribes to the event passes false, and then neither
 * the write nor `eventRecorded` touches the outbox.
 */
export interface CallStore {
  /**
   * Writes a new record; false when the call already has one (a retried Answer URL request). A started
   * call that is still started at `missedAt` (its stream never came) is listed by `overdue` from then.
   */
  create(record: CallRecord, retentionDays: number, missedAt?: string, outbox?: boolean): Promise<boolean>;
  get(tenant: string, id: string): Promise<CallRecord | null>;
  /**
   * Moves a started call to answered (its stream joined the room on media server `serverId`); null unless it
   * was started. Until it ends, the call is listed by `overdue('server#<serverId>')`: if that server dies,
   * the sweeper closes it.
   */
  answer(tenant: string, id: string, answeredAt: string, serverId: string, outbox?: boolean): Promise<CallRecord | null>;
  /** Ends a started or answered call; null when there is none, or it had already ended or was rejected. */
  end(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /** Ends a call still waiting for its stream as `missed`; null when it was answered or ended meanwhile. */
  miss(tenant: string, id: string, endedAt: string, retentionDays: number, outbox?: boolean): Promise<CallRecord | null>;
  /** The event's deliveries are recorded: the call no longer waits for it. */
  eventRecorded(tenant: string, id: string, event: CallEventType): Promise<void>;
  /** The call and the events its state changes still wait for; null when there is no such call. */
  pendingEvents(tenant: string, id: string): Promise<{ call: CallRecord; events: CallEventType[] } | null>;
  /** Records how dialling the call's agent went. */
  setAgentStatus(tenant: string, id: string, status: AgentStatus): Promise<void>;
  /** Newest first, filtered; `after` continues a previous page. */
  list(tenant: string, filter: CallFilter, limit: number, after?: CallPosition): Promise<CallPage>;
}

const callKey = (tenant: string, id: string) => ({ pk: str(`T#${tenant}`), sk: str(`CALL#${id}`) });
const byTime = (tenant: string, startedAt: string, id: string) => ({
  [TABLE_KEYS.byTime.partitionKey]: str(`CALLS#${tenant}`),
  [TABLE_KEYS.byTime.sortKey]: str(`${startedAt}#${id}`),
});
const expiry = (from: string, retentionDays: number) => num(Math.floor(Date.parse(from) / 1000) + retentionDays * 86400);
/** What puts a call in the `outbox` index, as of `at` (ISO): a state change whose event is not recorded yet. */
const outboxAttributes = (at: string): Item => ({ [TABLE_KEYS.outbox.partitionKey]: str('OUTBOX'), [TABLE_KEYS.outbox.sortKey]: str(at) });

const OPTIONAL_STRINGS = ['ruleId', 'roomId', 'region', 'answeredAt', 'endedAt', 'hangupReason', 'agentStatus', 'claimRef'] as const;

function toItem(c: CallRecord, retentionDays: number, missedAt: string | undefined, outbox: boolean): Item {
  const item: Item = {
    ...callKey(c.tenant, c.id),
    ...byTime(c.tenant, c.startedAt, c.id),
    type: str('call'),
    id: str(c.id),
    tenant: str(c.tenant),
    callUuid: str(c.callUuid),
    provider: str(c.provider),
    connectorId: str(c.connectorId),
    from: str(c.from),
    to: str(c.to),
    status: str(c.status),
    startedAt: str(c.startedAt),
    expiresAt: expiry(c.endedAt ?? c.startedAt, retentionDays),
    ...(missedAt && c.status === 'started' && dueAttributes('call', missedAt)),
    ...(outbox && { pendingEvents: { SS: [c.status === 'rejected' ? 'call-hangup' : 'call-started'] }, ...outboxAttributes(c.startedAt) }),
  };
  for (const field of OPTIONAL_STRINGS) {
    const value = c[field];
    if (value !== null) item[field] = str(value);
  }
  if (c.durationSeconds !== null) item.durationSeconds = num(c.durationSeconds);
  if (c.hidePhoneNumber) item.hidePhoneNumber = { BOOL: true };
  return item;
}

function fromItem(item: Item): CallRecord {
  return {
    id: readStr(item, 'id'),
    tenant: readStr(item, 'tenant'),
    callUuid: readStr(item, 'callUuid'),
    provider: readStr(item, 'provider') as ProviderId,
    connectorId: readStr(item, 'connectorId'),
    ruleId: readOptStr(item, 'ruleId'),
    roomId: readOptStr(item, 'roomId'),
    region: readOptStr(item, 'region'),
    from: readStr(item, 'from'),
    to: readStr(item, 'to'),
    status: readStr(item, 'status') as CallStatus,
    startedAt: readStr(item, 'startedAt'),
    answeredAt: readOptStr(item, 'answeredAt'),
    endedAt: readOptStr(item, 'endedAt'),
    durationSeconds: readOptNum(item, 'durationSeconds'),
    hangupReason: readOptStr(item, 'hangupReason'),
    agentStatus: readOptStr(item, 'agentStatus') as AgentStatus | null,
    claimRef: readOptStr(item, 'claimRef'),
    hidePhoneNumber: item.hidePhoneNumber?.BOOL === true,
  };
}

/** Pages of a filtered listing may come back short from DynamoDB; a listing reads at most this many. */
const MAX_QUERY_PAGES = 10;

export class DynamoCallStore implements CallStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
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
    return this.move(tenant, id, ['started'], 'answered', outbox && 'call-answered', { answeredAt: str(answeredAt), mediaServer: str(serverId) }, dueAttributes(`server#${serverId}`, answeredAt));
  }

  end(tenant: string, id: string, end: CallEnd, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, ['started', 'answered'], 'ended', outbox && 'call-hangup', {
      endedAt: str(end.endedAt),
      hangupReason: str(end.hangupReason),
      expiresAt: expiry(end.endedAt, retentionDays),
      ...(end.durationSeconds !== null && { durationSeconds: num(end.durationSeconds) }),
    });
  }

  miss(tenant: string, id: string, endedAt: string, retentionDays: number, outbox = true): Promise<CallRecord | null> {
    return this.move(tenant, id, ['started'], 'ended', outbox && 'call-missed', { endedAt: str(endedAt), hangupReason: str('missed'), expiresAt: expiry(endedAt, retentionDays) });
  }

  async eventRecorded(tenant: string, id: string, event: CallEventType): Promise<void> {
    const out = await db(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: callKey(tenant, id),
          UpdateExpression: 'DELETE pendingEvents :event',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':event': { SS: [event] } },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (out.Attributes?.pendingEvents) return;
    // None left: out of the outbox index, unless a state change added an event meanwhile.
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

  async pendingEvents(tenant: string, id: string): Promise<{ call: CallRecord; events: CallEventType[] } | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: callKey(tenant, id), ConsistentRead: true })),
    );
    return out.Item ? { call: fromItem(out.Item), events: (out.Item.pendingEvents?.SS ?? []) as CallEventType[] } : null;
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

  /**
   * Moves a call to `status`, setting `fields`, if it is in one of `from` (one conditional write);
   * null when there is no such call or it was in another state. A call that moves is no longer due, unless
   * `due` puts it under another kind of due work; it waits for `event`, if any, to be published (the outbox index).
   */
  private async move(tenant: string, id: string, from: readonly CallStatus[], status: CallStatus, event: CallEventType | false, set: Item, due?: Item): Promise<CallRecord | null> {
    const fields = { ...set, ...due, ...(event && outboxAttributes(new Date().toISOString())) };
    const names = Object.keys(fields);
    const values: Item = { ':status': str(status), ...(event && { ':event': { SS: [event] } }) };
    from.forEach((state, i) => (values[`:from${i}`] = str(state)));
    names.forEach((name, i) => (values[`:v${i}`] = fields[name] as Item[string]));
    try {
      const out = await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: callKey(tenant, id),
            UpdateExpression: `${['SET #status = :status', ...names.map((name, i) => `#f${i} = :v${i}`)].join(', ')}${event ? ' ADD pendingEvents :event' : ''}${due ? '' : ' REMOVE #duePk, #dueSk'}`,
            ConditionExpression: `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`,
            ExpressionAttributeNames: {
              '#status': 'status',
              ...(!due && { '#duePk': TABLE_KEYS.due.partitionKey, '#dueSk': TABLE_KEYS.due.sortKey }),
              ...Object.fromEntries(names.map((name, i) => [`#f${i}`, name])),
            },
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return out.Attributes ? fromItem(out.Attributes) : null;
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  async list(tenant: string, filter: CallFilter, limit: number, after?: CallPosition): Promise<CallPage> {
    const names: Record<string, string> = {};
    const values: Item = { ':gpk': str(`CALLS#${tenant}`) };
    const conditions: string[] = [];
    for (const [field, value] of Object.entries(filter)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = str(value as string);
      conditions.push(`#${field} = :${field}`);
    }
    const items: CallRecord[] = [];
    let start: Item | undefined = after && { ...callKey(tenant, after.id), ...byTime(tenant, after.startedAt, after.id) };
    for (let pages = 0; pages < MAX_QUERY_PAGES && items.length <= limit; pages++) {
      const out = await db(() =>
        this.dynamo.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: TABLE_KEYS.byTime.indexName,
            KeyConditionExpression: `${TABLE_KEYS.byTime.partitionKey} = :gpk`,
            ...(conditions.length && { FilterExpression: conditions.join(' AND '), ExpressionAttributeNames: names }),
            ExpressionAttributeValues: values,
            ScanIndexForward: false,
            Limit: limit + 1,
            ...(start && { ExclusiveStartKey: start }),
          }),
        ),
      );
      items.push(...(out.Items ?? []).map(fromItem));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    const page = items.slice(0, limit);
    const last = page[page.length - 1];
    if (items.length > limit && last) return { items: page, next: { startedAt: last.startedAt, id: last.id } };
    if (!start) return { items: page, next: null };
    // Stopped reading before the end of the index (the filter kept few records): continue from there.
    const [startedAt = '', id = ''] = readStr(start, TABLE_KEYS.byTime.sortKey).split('#');
    return { items: page, next: { startedAt, id } };
  }
}

/**
 * Ends a call whose media server was lost, with its duration from the recorded answer: null when it had
 * ended already (its stream's own server, or Plivo's hangup callback, got there first).
 */
export async function endAsMediaFailure(calls: CallStore, tenant: string, id: string, retentionDays: number, outbox: boolean): Promise<CallRecord | null> {
  const answeredAt = (await calls.get(tenant, id))?.answeredAt;
  return calls.end(tenant, id, callEnd('media-failure', answeredAt ? Date.parse(answeredAt) : null), retentionDays, outbox);
}
