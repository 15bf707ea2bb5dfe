import { DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient, type QueryCommandInput, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { conditionalUpdate, conditionalWrite, db, dueAttributes, getByKeys, num, overdue, readAtMost, readOptNum, readOptStr, readStr, str, TABLE_KEYS, type Item } from '../dynamo';
import { cappedPage, type NumberedPage, type PageRequest } from '../pagination';
import type { Recording, RecordingFormat, RecordingKind, RecordingStatus } from './model';

export interface RecordingFilter {
  readonly roomId?: string | undefined;
  readonly sessionId?: string | undefined;
}

/** How a recording ended: its status, end, and (once assembled) the WAV's size and duration. */
export interface RecordingEnd {
  readonly status: Exclude<RecordingStatus, 'recording'>;
  readonly end: string;
  readonly reason: string | null;
  readonly size: number | null;
  readonly duration: number | null;
}

/** Storage port of recording records (the control plane's table), every call scoped to one tenant. */
export interface RecordingStore {
  /**
   * Writes a new recording (status `recording`), in its server's `due` index (the sweeper finishes it if that server
   * dies). A room recording also takes the room's lock (one room recording per room at a time): false, nothing
   * written, when the room is recording already.
   */
  create(recording: Recording, retentionDays: number): Promise<boolean>;
  /**
   * The media server began writing its audio at `start` (the WAV's first sample), in `format` when given (a room's mix
   * rate is known only there: the API writes a room recording before it starts). Null when it is not `recording`.
   */
  began(tenant: string, id: string, start: string, format?: RecordingFormat): Promise<Recording | null>;
  /** Ends a `recording` one (releasing its room's lock, leaving its server's `due` index); null when it had ended. */
  finish(tenant: string, id: string, end: RecordingEnd): Promise<Recording | null>;
  get(tenant: string, id: string): Promise<Recording | null>;
  /** The room's live room recording (by its lock), null when none. `roomId`: the room record's id. */
  active(tenant: string, roomId: string): Promise<Recording | null>;
  page(tenant: string, filter: RecordingFilter, request: PageRequest): Promise<NumberedPage<Recording>>;
  /** Deletes an ended recording's record. False when it does not exist or is still recording. */
  delete(tenant: string, id: string): Promise<boolean>;
  /** Recordings media server `serverId` left `recording` (the sweeper's view of a dead server). */
  leftBehind(serverId: string): Promise<readonly Recording[]>;
}

/**
 * A listing reads at most this many of the tenant's recordings (newest first; a recording item is about 500 bytes, so
 * at most about 63 read units) before its filters: the total beyond is a lower bound (`totalIsLowerBound`).
 */
export const RECORDING_LIST_READ_LIMIT = 1_000;

/** The `due` index kind under which a media server's recordings are listed while it writes them (the sweeper finishes them if it dies). */
export const recordingsOf = (serverId: string) => `recordings#${serverId}` as const;

/** Every recording a dead server left falls due before this. */
const ALL_OF_THEM = new Date('9999-12-31T00:00:00Z');
const LEFT_BEHIND_BATCH = 100;

const RECORDING_PREFIX = 'REC#';
const LOCK_PREFIX = 'RL#';
const tenantPk = (tenant: string) => str(`T#${tenant}`);
const recordingKeyOf = (tenant: string, id: string) => ({ pk: tenantPk(tenant), sk: str(`${RECORDING_PREFIX}${id}`) });
/** A room's lock: names its one room recording in progress; written after the recording, removed as it finishes. */
const lockKey = (tenant: string, roomId: string) => ({ pk: tenantPk(tenant), sk: str(`${LOCK_PREFIX}${roomId}`) });
const expiry = (from: string, retentionDays: number) => num(Math.floor(Date.parse(from) / 1000) + retentionDays * 86400);
const optStr = (name: string, value: string | null): Item => (value === null ? {} : { [name]: str(value) });
const optNum = (name: string, value: number | null): Item => (value === null ? {} : { [name]: num(value) });

function recordingOf(item: Item): Recording {
  return {
    tenant: readStr(item, 'tenant'),
    id: readStr(item, 'id'),
    kind: readStr(item, 'kind') as RecordingKind,
    roomId: readStr(item, 'roomId'),
    customRoomId: readOptStr(item, 'customRoomId'),
    sessionId: readStr(item, 'sessionId'),
    callId: readOptStr(item, 'callId'),
    status: readStr(item, 'status') as RecordingStatus,
    start: readStr(item, 'start'),
    end: readOptStr(item, 'end'),
    reason: readOptStr(item, 'reason'),
    format: { format: 'wav', channels: readOptNum(item, 'channels') === 2 ? 2 : 1, sampleRate: readOptNum(item, 'sampleRate') ?? 0 },
    region: readStr(item, 'region'),
    awsRegion: readStr(item, 'awsRegion'),
    bucket: readStr(item, 'bucket'),
    key: readStr(item, 'objectKey'),
    serverId: readStr(item, 'mediaServer'),
    webhookUrl: readOptStr(item, 'webhookUrl'),
    size: readOptNum(item, 'size'),
    duration: readOptNum(item, 'duration'),
  };
}

/**
 * Recordings in the control table, under the tenant's partition: one item each (`REC#<id>`, time-ordered, so the
 * tenant's recordings list newest first), in its media server's `due` index while it is `recording`, kept
 * `retentionDays` (TTL, as the bucket's lifecycle keeps the audio). A room being recorded has a lock (`RL#<roomId>`)
 * naming its room recording: one conditional put takes it, the recording's finish removes it, and a lock naming a
 * recording that has ended (its removal failed) is taken over. A start is two puts (three over a stale lock), a
 * finish one update and (a room's) one conditional delete.
 */
export class DynamoRecordingStore implements RecordingStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    /** How many recordings a listing reads at most (`RECORDING_LIST_READ_LIMIT`). */
    private readonly readLimit = RECORDING_LIST_READ_LIMIT,
  ) {}

  async create(recording: Recording, retentionDays: number): Promise<boolean> {
    const expiresAt = expiry(recording.start, retentionDays);
    const { tenant, id } = recording;
    const item: Item = {
      ...recordingKeyOf(tenant, id),
      type: str('recording'),
      tenant: str(tenant),
      id: str(id),
      kind: str(recording.kind),
      roomId: str(recording.roomId),
      ...optStr('customRoomId', recording.customRoomId),
      sessionId: str(recording.sessionId),
      ...optStr('callId', recording.callId),
      status: str(recording.status),
      start: str(recording.start),
      ...optStr('end', recording.end),
      ...optStr('reason', recording.reason),
      channels: num(recording.format.channels),
      sampleRate: num(recording.format.sampleRate),
      region: str(recording.region),
      awsRegion: str(recording.awsRegion),
      bucket: str(recording.bucket),
      objectKey: str(recording.key),
      mediaServer: str(recording.serverId),
      ...optStr('webhookUrl', recording.webhookUrl),
      ...optNum('size', recording.size),
      ...optNum('duration', recording.duration),
      expiresAt,
      ...(recording.status === 'recording' && dueAttributes(recordingsOf(recording.serverId), recording.start)),
    };
    // The recording first: a lock then always names a recording that exists (or existed), so its status says whether it holds.
    await db(() => this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
    if (recording.kind !== 'room' || (await this.lock(recording, expiresAt))) return true;
    await db(() => this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: recordingKeyOf(tenant, id) })));
    return false;
  }

  async began(tenant: string, id: string, start: string, format?: RecordingFormat): Promise<Recording | null> {
    const began = await this.update({
      Key: recordingKeyOf(tenant, id),
      UpdateExpression: `SET #start = :start${format ? ', channels = :channels, sampleRate = :sampleRate' : ''}`,
      ConditionExpression: '#status = :recording',
      ExpressionAttributeNames: { '#start': 'start', '#status': 'status' },
      ExpressionAttributeValues: { ':start': str(start), ':recording': str('recording'), ...(format && { ':channels': num(format.channels), ':sampleRate': num(format.sampleRate) }) },
    });
    return began && recordingOf(began);
  }

  async finish(tenant: string, id: string, end: RecordingEnd): Promise<Recording | null> {
    const set = { status: str(end.status), end: str(end.end), ...optStr('reason', end.reason), ...optNum('size', end.size), ...optNum('duration', end.duration) };
    const names = Object.keys(set);
    const finished = await this.update({
      Key: recordingKeyOf(tenant, id),
      UpdateExpression: `SET ${names.map((name) => `#${name} = :${name}`).join(', ')} REMOVE #duePk, #dueSk`,
      ConditionExpression: '#status = :recording',
      ExpressionAttributeNames: { ...Object.fromEntries(names.map((name) => [`#${name}`, name])), '#duePk': TABLE_KEYS.due.partitionKey, '#dueSk': TABLE_KEYS.due.sortKey },
      ExpressionAttributeValues: { ...Object.fromEntries(Object.entries(set).map(([name, value]) => [`:${name}`, value])), ':recording': str('recording') },
    });
    if (!finished) return null;
    const recording = recordingOf(finished);
    // A removal that fails is let be: the recording has ended, so its lock no longer holds (the next start takes it over).
    if (recording.kind === 'room') {
      await conditionalWrite(() =>
        this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: lockKey(tenant, recording.roomId), ConditionExpression: 'recordingId = :id', ExpressionAttributeValues: { ':id': str(id) } })),
      ).catch(() => undefined);
    }
    return recording;
  }

  async get(tenant: string, id: string): Promise<Recording | null> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: recordingKeyOf(tenant, id), ConsistentRead: true })));
    return out.Item ? recordingOf(out.Item) : null;
  }

  async active(tenant: string, roomId: string): Promise<Recording | null> {
    return (await this.holder(tenant, roomId)).recording;
  }

  page(tenant: string, filter: RecordingFilter, request: PageRequest): Promise<NumberedPage<Recording>> {
    const fields = Object.entries({ roomId: filter.roomId, sessionId: filter.sessionId }).filter((entry): entry is [string, string] => entry[1] !== undefined);
    const query: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ...(fields.length && { FilterExpression: fields.map(([field]) => `#${field} = :${field}`).join(' AND '), ExpressionAttributeNames: Object.fromEntries(fields.map(([field]) => [`#${field}`, field])) }),
      ExpressionAttributeValues: { ':pk': tenantPk(tenant), ':prefix': str(RECORDING_PREFIX), ...Object.fromEntries(fields.map(([field, value]) => [`:${field}`, str(value)])) },
      ScanIndexForward: false,
    };
    return cappedPage(request, () => readAtMost(this.dynamo, query, this.readLimit), (items) => Promise.resolve(items.map(recordingOf)));
  }

  delete(tenant: string, id: string): Promise<boolean> {
    return conditionalWrite(() =>
      this.dynamo.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: recordingKeyOf(tenant, id),
          ConditionExpression: 'attribute_exists(pk) AND #status <> :recording',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':recording': str('recording') },
        }),
      ),
    );
  }

  async leftBehind(serverId: string): Promise<readonly Recording[]> {
    const keys: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await overdue(this.dynamo, this.tableName, recordingsOf(serverId), ALL_OF_THEM, LEFT_BEHIND_BATCH, start);
      keys.push(...page.keys);
      start = page.next;
    } while (start);
    // The index is eventually consistent: a recording finished a moment ago may still be listed, its item says.
    return (await getByKeys(this.dynamo, this.tableName, keys)).map(recordingOf).filter((recording) => recording.status === 'recording');
  }

  /** Takes the room's lock for `recording`: false when another room recording of the room is in progress. */
  private async lock(recording: Recording, expiresAt: AttributeValue): Promise<boolean> {
    const lock = (condition: string, values?: Item) =>
      conditionalWrite(() =>
        this.dynamo.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: { ...lockKey(recording.tenant, recording.roomId), type: str('recording-lock'), recordingId: str(recording.id), expiresAt },
            ConditionExpression: condition,
            ...(values && { ExpressionAttributeValues: values }),
          }),
        ),
      );
    if (await lock('attribute_not_exists(pk)')) return true;
    const { holderId, recording: holding } = await this.holder(recording.tenant, recording.roomId);
    // A lock left by a recording that ended (its removal failed) or expired is taken over, if nobody took it meanwhile.
    return holding === null && holderId !== null && lock('recordingId = :stale', { ':stale': str(holderId) });
  }

  /** The recording the room's lock names (`holderId`), and that recording when it is still `recording`. */
  private async holder(tenant: string, roomId: string): Promise<{ holderId: string | null; recording: Recording | null }> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: lockKey(tenant, roomId), ConsistentRead: true })));
    const holderId = out.Item?.recordingId?.S ?? null;
    const recording = holderId === null ? null : await this.get(tenant, holderId);
    return { holderId, recording: recording?.status === 'recording' ? recording : null };
  }

  private update(input: Omit<UpdateItemCommandInput, 'TableName' | 'ReturnValues'>): Promise<Item | null> {
    return conditionalUpdate(this.dynamo, this.tableName, input);
  }
}
