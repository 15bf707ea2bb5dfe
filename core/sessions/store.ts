import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type DynamoDBClient, type QueryCommandInput, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { conditionalUpdate, conditionalWrite, db, dueAttributes, num, readAtMost, readOptStr, readStr, str, TABLE_KEYS, type Item } from '../dynamo';
import { timeOrderedId } from '../ids';
import { cappedPage, type NumberedPage, type PageRequest } from '../pagination';
import type { Session, SessionParticipant, SessionParticipantKind, SessionStatus, TimelogEntry } from './model';

/**
 * A listing reads at most this many sessions of its date window (newest first; a session item is about 250 bytes, so
 * at most about 31 read units): older ones are reached by narrowing the window (`endDate`).
 */
export const SESSION_LIST_READ_LIMIT = 1_000;
/** The participants of one session a listing reads at most. */
export const PARTICIPANT_LIST_READ_LIMIT = 1_000;

export interface SessionFilter {
  readonly roomId?: string | undefined;
  readonly customRoomId?: string | undefined;
  readonly status?: SessionStatus | undefined;
  /** Sessions started at or after / at or before these times (ISO). */
  readonly startDate?: string | undefined;
  readonly endDate?: string | undefined;
}

/** Who joined: the participant's fields other than its timelog. */
export type Joiner = Omit<SessionParticipant, 'timelog'>;

/** Storage port of session records, every call scoped to one tenant. */
export interface SessionStore {
  /** Writes a new ongoing session, held by media server `serverId` (ended by the sweeper if that server dies). */
  start(session: Session, serverId: string, retentionDays: number): Promise<void>;
  /** Opens a stay of the participant (a new timelog entry), recording it first if it is new to the session. */
  joined(tenant: string, sessionId: string, joiner: Joiner, at: string, retentionDays: number): Promise<SessionParticipant>;
  /** Closes the participant's stay `entry` (its timelog index); null when it was closed already. */
  left(tenant: string, sessionId: string, participantId: string, entry: number, at: string): Promise<SessionParticipant | null>;
  /** Ends the session; null when it had ended already. */
  end(tenant: string, sessionId: string, at: string): Promise<Session | null>;
  get(tenant: string, id: string): Promise<Session | null>;
  /** The room's live session (`roomId`: its record's id), found by the room's pointer whatever the tenant holds; null when none is ongoing. */
  live(tenant: string, roomId: string): Promise<Session | null>;
  page(tenant: string, filter: SessionFilter, request: PageRequest): Promise<NumberedPage<Session>>;
  participant(tenant: string, sessionId: string, participantId: string): Promise<SessionParticipant | null>;
  participants(tenant: string, sessionId: string, activeOnly: boolean, request: PageRequest): Promise<NumberedPage<SessionParticipant>>;
  /**
   * Ends a session its media server left ongoing (it died) as of `at`, then closes each participant's open stay at the
   * session's end. The session stays in its server's `due` index until `forgetLeftBehind`: called again meanwhile (a
   * sweep that failed or died part way) it keeps the first call's end, closes what is still open and answers every stay
   * closed at that end, those an earlier call closed included. Null when the session is not left behind (its server
   * ended it, or it was forgotten).
   */
  endLeftBehind(tenant: string, sessionId: string, at: string): Promise<LeftBehind | null>;
  /** Takes a session `endLeftBehind` ended out of its server's `due` index, once its events are published. */
  forgetLeftBehind(tenant: string, sessionId: string): Promise<void>;
}

/** A session its dead server left behind, ended: the session as recorded, and each participant whose stay was closed at its end (`entry`: the stay's timelog index). */
export interface LeftBehind {
  readonly session: Session;
  readonly left: readonly { readonly participant: SessionParticipant; readonly entry: number }[];
}

/** The `due` index kind under which a media server's ongoing sessions are listed (the sweeper ends them if it dies). */
export const sessionsOf = (serverId: string) => `sessions#${serverId}` as const;

const SESSION_PREFIX = 'SS#';
const PARTICIPANT_PREFIX = 'SP#';
const LIVE_PREFIX = 'SL#';
const tenantPk = (tenant: string) => str(`T#${tenant}`);
const sessionKey = (tenant: string, id: string) => ({ pk: tenantPk(tenant), sk: str(`${SESSION_PREFIX}${id}`) });
/** A room's pointer to its live session: written at the session's start, removed at its end if it still names it. */
const liveKey = (tenant: string, roomId: string) => ({ pk: tenantPk(tenant), sk: str(`${LIVE_PREFIX}${roomId}`) });
const participantKey = (tenant: string, sessionId: string, participantId: string) => ({ pk: tenantPk(tenant), sk: str(`${PARTICIPANT_PREFIX}${sessionId}#${participantId}`) });
const expiry = (from: string, retentionDays: number) => num(Math.floor(Date.parse(from) / 1000) + retentionDays * 86400);

/** The tenant and session id a session item's keys name (the sweeper reads them from the `due` index); null for other items. */
export function sessionRefOf(key: Item): { tenant: string; id: string } | null {
  const tenant = key.pk?.S?.replace(/^T#/, '');
  const sk = key.sk?.S;
  return tenant && sk?.startsWith(SESSION_PREFIX) ? { tenant, id: sk.slice(SESSION_PREFIX.length) } : null;
}

function sessionOf(item: Item): Session {
  return {
    tenant: readStr(item, 'tenant'),
    id: readStr(item, 'id'),
    roomId: readStr(item, 'roomId'),
    customRoomId: readOptStr(item, 'customRoomId'),
    start: readStr(item, 'start'),
    end: readOptStr(item, 'end'),
    status: readStr(item, 'status') as SessionStatus,
    region: readStr(item, 'region'),
  };
}

function participantOf(item: Item): SessionParticipant {
  return {
    participantId: readStr(item, 'participantId'),
    name: readOptStr(item, 'name'),
    kind: readStr(item, 'kind') as SessionParticipantKind,
    callId: readOptStr(item, 'callId'),
    timelog: (item.timelog?.L ?? []).map(({ M: entry }): TimelogEntry => ({ start: entry?.start?.S ?? '', end: entry?.end?.S ?? null })),
  };
}

/**
 * Sessions and their participants in the control table, under the tenant's partition: a session is one item
 * (`SS#<id>`, time-ordered, so the tenant's sessions list newest first and a date window is a key range), each of its
 * participants one more (`SP#<sessionId>#<participantId>`, its stays in `timelog`), and each room with a live session
 * a pointer to it (`SL#<roomId>`), so the API finds a room's live session with two reads however many sessions the
 * tenant holds (a listing reads at most SESSION_LIST_READ_LIMIT of them). Every write is one single-item write: a
 * session's start two puts (the session, the room's pointer), each join and each leave one update, its end one update
 * and one conditional delete (the pointer).
 */
export class DynamoSessionStore implements SessionStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    /** How many sessions of a window a listing reads at most (`SESSION_LIST_READ_LIMIT`). */
    private readonly readLimit = SESSION_LIST_READ_LIMIT,
  ) {}

  async start(session: Session, serverId: string, retentionDays: number): Promise<void> {
    const expiresAt = expiry(session.start, retentionDays);
    const item: Item = {
      ...sessionKey(session.tenant, session.id),
      type: str('session'),
      tenant: str(session.tenant),
      id: str(session.id),
      roomId: str(session.roomId),
      ...(session.customRoomId !== null && { customRoomId: str(session.customRoomId) }),
      start: str(session.start),
      status: str(session.status),
      region: str(session.region),
      mediaServer: str(serverId),
      expiresAt,
      ...dueAttributes(sessionsOf(serverId), session.start),
    };
    await db(() => this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
    // Unconditional: a room's newest session is its live one (an older one still ongoing is a dead server's, which the sweeper ends).
    const pointer: Item = { ...liveKey(session.tenant, session.roomId), type: str('session-live'), sessionId: str(session.id), expiresAt };
    await db(() => this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: pointer })));
  }

  async joined(tenant: string, sessionId: string, joiner: Joiner, at: string, retentionDays: number): Promise<SessionParticipant> {
    const out = await db(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: participantKey(tenant, sessionId, joiner.participantId),
          UpdateExpression: `SET #type = :type, sessionId = :sessionId, participantId = :participantId, #kind = :kind, #active = :active, expiresAt = if_not_exists(expiresAt, :expiresAt), timelog = list_append(if_not_exists(timelog, :none), :entry)${joiner.name !== null ? ', #name = :name' : ''}${joiner.callId !== null ? ', callId = :callId' : ''}`,
          ExpressionAttributeNames: { '#type': 'type', '#kind': 'kind', '#active': 'active', ...(joiner.name !== null && { '#name': 'name' }) },
          ExpressionAttributeValues: {
            ':type': str('session-participant'),
            ':sessionId': str(sessionId),
            ':participantId': str(joiner.participantId),
            ':kind': str(joiner.kind),
            ':active': { BOOL: true },
            ':expiresAt': expiry(at, retentionDays),
            ':none': { L: [] },
            ':entry': { L: [{ M: { start: str(at) } }] },
            ...(joiner.name !== null && { ':name': str(joiner.name) }),
            ...(joiner.callId !== null && { ':callId': str(joiner.callId) }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return participantOf(out.Attributes as Item);
  }

  async left(tenant: string, sessionId: string, participantId: string, entry: number, at: string): Promise<SessionParticipant | null> {
    const closed = await this.update({
      Key: participantKey(tenant, sessionId, participantId),
      UpdateExpression: `SET timelog[${entry}].#end = :at, #active = :inactive`,
      ConditionExpression: `attribute_exists(timelog[${entry}]) AND attribute_not_exists(timelog[${entry}].#end)`,
      ExpressionAttributeNames: { '#end': 'end', '#active': 'active' },
      ExpressionAttributeValues: { ':at': str(at), ':inactive': { BOOL: false } },
    });
    return closed && participantOf(closed);
  }

  async end(tenant: string, sessionId: string, at: string): Promise<Session | null> {
    const ended = await this.update({
      Key: sessionKey(tenant, sessionId),
      UpdateExpression: 'SET #status = :ended, #end = :at REMOVE #duePk, #dueSk',
      ConditionExpression: '#status = :ongoing',
      ExpressionAttributeNames: { '#status': 'status', '#end': 'end', '#duePk': TABLE_KEYS.due.partitionKey, '#dueSk': TABLE_KEYS.due.sortKey },
      ExpressionAttributeValues: { ':ended': str('ended'), ':ongoing': str('ongoing'), ':at': str(at) },
    });
    if (!ended) return null;
    const session = sessionOf(ended);
    await this.unpoint(session);
    return session;
  }

  async get(tenant: string, id: string): Promise<Session | null> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: sessionKey(tenant, id), ConsistentRead: true })));
    return out.Item ? sessionOf(out.Item) : null;
  }

  async live(tenant: string, roomId: string): Promise<Session | null> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: liveKey(tenant, roomId), ConsistentRead: true })));
    const sessionId = out.Item?.sessionId?.S;
    // A pointer left behind (its removal failed) names an ended session: the session's own status decides.
    const session = sessionId === undefined ? null : await this.get(tenant, sessionId);
    return session?.status === 'ongoing' ? session : null;
  }

  page(tenant: string, filter: SessionFilter, request: PageRequest): Promise<NumberedPage<Session>> {
    const names: Record<string, string> = {};
    const values: Item = {};
    const conditions: string[] = [];
    for (const [field, value] of Object.entries({ roomId: filter.roomId, customRoomId: filter.customRoomId, status: filter.status })) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = str(value);
      conditions.push(`#${field} = :${field}`);
    }
    // Ids start with their session's start time: the window is a key range (`~` sorts after every id of its last ms).
    const bound = (at: string | undefined, fallback: string) => `${SESSION_PREFIX}${at === undefined ? `ss_${fallback}` : timeOrderedId('ss_', Date.parse(at), fallback)}`;
    const query: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ...(conditions.length && { FilterExpression: conditions.join(' AND '), ExpressionAttributeNames: names }),
      ExpressionAttributeValues: { ':pk': tenantPk(tenant), ':from': str(bound(filter.startDate, '')), ':to': str(bound(filter.endDate, '~')), ...values },
      ScanIndexForward: false,
    };
    return cappedPage(request, () => readAtMost(this.dynamo, query, this.readLimit), (items) => Promise.resolve(items.map(sessionOf)));
  }

  async participant(tenant: string, sessionId: string, participantId: string): Promise<SessionParticipant | null> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: participantKey(tenant, sessionId, participantId), ConsistentRead: true })));
    return out.Item ? participantOf(out.Item) : null;
  }

  participants(tenant: string, sessionId: string, activeOnly: boolean, request: PageRequest): Promise<NumberedPage<SessionParticipant>> {
    const query = this.participantsQuery(tenant, sessionId, activeOnly);
    return cappedPage(request, () => readAtMost(this.dynamo, query, PARTICIPANT_LIST_READ_LIMIT), (items) => Promise.resolve(items.map(participantOf)));
  }

  async endLeftBehind(tenant: string, sessionId: string, at: string): Promise<LeftBehind | null> {
    // The session first, kept in the due index: its end is fixed by the first call, and a call after a failure finds
    // it there and closes the stays still open at that same end, answering those already closed too.
    const ended = await this.update({
      Key: sessionKey(tenant, sessionId),
      UpdateExpression: 'SET #status = :ended, #end = if_not_exists(#end, :at)',
      ConditionExpression: 'attribute_exists(#duePk)',
      ExpressionAttributeNames: { '#status': 'status', '#end': 'end', '#duePk': TABLE_KEYS.due.partitionKey },
      ExpressionAttributeValues: { ':ended': str('ended'), ':at': str(at) },
    });
    if (!ended) return null;
    const session = sessionOf(ended);
    await this.unpoint(session);
    const end = session.end ?? at;
    const left: { participant: SessionParticipant; entry: number }[] = [];
    let start: Item | undefined;
    do {
      const out = await db(() => this.dynamo.send(new QueryCommand({ ...this.participantsQuery(tenant, sessionId, false), ...(start && { ExclusiveStartKey: start }) })));
      for (const item of out.Items ?? []) {
        const participant = participantOf(item);
        const entry = participant.timelog.length - 1;
        // A stay closed meanwhile by another sweep (at the same end) is read again: it may have died before publishing.
        const recorded =
          participant.timelog[entry]?.end === null
            ? ((await this.left(tenant, sessionId, participant.participantId, entry, end)) ?? (await this.participant(tenant, sessionId, participant.participantId)))
            : participant;
        if (recorded?.timelog[entry]?.end === end) left.push({ participant: recorded, entry });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return { session, left };
  }

  async forgetLeftBehind(tenant: string, sessionId: string): Promise<void> {
    await this.update({
      Key: sessionKey(tenant, sessionId),
      UpdateExpression: 'REMOVE #duePk, #dueSk',
      ConditionExpression: '#status = :ended',
      ExpressionAttributeNames: { '#status': 'status', '#duePk': TABLE_KEYS.due.partitionKey, '#dueSk': TABLE_KEYS.due.sortKey },
      ExpressionAttributeValues: { ':ended': str('ended') },
    });
  }

  private participantsQuery(tenant: string, sessionId: string, activeOnly: boolean): QueryCommandInput {
    return {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ...(activeOnly && { FilterExpression: '#active = :active', ExpressionAttributeNames: { '#active': 'active' } }),
      ExpressionAttributeValues: { ':pk': tenantPk(tenant), ':prefix': str(`${PARTICIPANT_PREFIX}${sessionId}#`), ...(activeOnly && { ':active': { BOOL: true } }) },
      ConsistentRead: true,
    };
  }

  /**
   * Removes the room's pointer to `session`, ended: one pointing to a newer session of the room stays. A removal that
   * fails is let be: the session is ended already (its end must still fire its event), and `live` reads the status of
   * the session a pointer names, so a pointer left behind answers nothing; the room's next session overwrites it.
   */
  private async unpoint(session: Session): Promise<void> {
    await conditionalWrite(() =>
      this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: liveKey(session.tenant, session.roomId), ConditionExpression: 'sessionId = :id', ExpressionAttributeValues: { ':id': str(session.id) } })),
    ).catch(() => undefined);
  }

  private update(input: Omit<UpdateItemCommandInput, 'TableName' | 'ReturnValues'>): Promise<Item | null> {
    return conditionalUpdate(this.dynamo, this.tableName, input);
  }
}
