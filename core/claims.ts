import { GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import type { ControlPlaneConfig } from './config';
import { regionTables } from './region-tables';
import { db, isConditionFailure, num, readOptNum, readOptStr, readStr, str, type Item } from './dynamo';
import { CALL_EVENT_TYPES, type CallEventType } from './events';
import type { AgentDial } from './agents/schema';
import type { CallParticipant } from './calls/model';

/**
 * A claim: the single-use ticket that lets Plivo's stream for one call into its room. The Answer URL
 * writes it in the call's media region; the ingest there takes it with one conditional write while it
 * is pending and unexpired. Expiry is checked by that write, never left to DynamoDB TTL (lazy).
 */
export interface Claim {
  /** 192 random bits, base64url: the secret in the stream URL. */
  readonly ref: string;
  readonly callUuid: string;
  readonly callId: string;
  readonly tenant: string;
  readonly connectorId: string;
  readonly roomId: string;
  readonly ruleId: string | null;
  readonly region: string;
  readonly from: string;
  readonly to: string;
  /** Epoch milliseconds after which the claim can no longer be taken. */
  readonly expiresAtMs: number;
  /** The routing rule's agent, dialled into the room when the stream joins. */
  readonly agent: AgentDial | null;
  /** The rule's `hidePhoneNumber`: the room and the agent see the caller's number masked. */
  readonly hidePhoneNumber: boolean;
  /** The rule's `dtmf`: whether the caller's key presses reach the room. */
  readonly dtmf: boolean;
  /** The caller's participant attributes, from the call's SIP headers as the rule asks (`ruleAttributes`). */
  readonly attributes: Readonly<Record<string, string>>;
  /**
   * The call events the tenant's webhooks subscribed to when the call was routed: the media server's state changes
   * wait in the outbox for these (and for any its webhook cache knows of since). A claim that does not say (written
   * before this field) names them all.
   */
  readonly events: readonly CallEventType[];
  /** An outbound call's participant id and name in the room (`POST /v2/sip/call`'s `participant`). */
  readonly participant?: CallParticipant;
  /** The call is recorded: its routing rule's `recording`, or an outbound call's `recordAudio` (core/recordings). */
  readonly record?: true;
}

/** Why a claim could not be taken. */
export type ClaimRefusal = 'unknown' | 'used' | 'expired';

export function newClaimRef(): string {
  return randomBytes(24).toString('base64url');
}

/** How every claim's partition key starts (then its ref's hash): the answer function's grant on a region's table is to these items alone. */
export const CLAIM_PARTITION_PREFIX = 'CLAIM#';
/** Claims are stored under the ref's SHA-256: the ref itself is a bearer secret. */
export const claimKey = (ref: string) => ({ pk: str(`${CLAIM_PARTITION_PREFIX}${createHash('sha256').update(ref).digest('hex')}`), sk: str('CLAIM') });

/** Lazily deleted a day after expiry, long after any check needs it. */
const TTL_GRACE_SECONDS = 86400;

export class ClaimStore {
  constructor(private readonly tableFor: (region: string) => { dynamo: DynamoDBClient; tableName: string }) {}

  /** Writes the claim unless it exists (taken or not): a replayed answer must not revive a used claim. */
  async createOnce(claim: Claim): Promise<void> {
    try {
      await this.create(claim);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  async create(claim: Claim): Promise<void> {
    const { dynamo, tableName } = this.tableFor(claim.region);
    const item = {
      ...claimKey(claim.ref),
      type: str('claim'),
      status: str('pending'),
      callUuid: str(claim.callUuid),
      callId: str(claim.callId),
      tenant: str(claim.tenant),
      connectorId: str(claim.connectorId),
      roomId: str(claim.roomId),
      region: str(claim.region),
      from: str(claim.from),
      to: str(claim.to),
      expiresAtMs: num(claim.expiresAtMs),
      expiresAt: num(Math.ceil(claim.expiresAtMs / 1000) + TTL_GRACE_SECONDS),
      ...(claim.ruleId && { ruleId: str(claim.ruleId) }),
      ...(claim.agent && { agent: str(JSON.stringify(claim.agent)) }),
      ...(claim.hidePhoneNumber && { hidePhoneNumber: { BOOL: true } }),
      ...(!claim.dtmf && { dtmf: { BOOL: false } }),
      ...(Object.keys(claim.attributes).length > 0 && { attributes: str(JSON.stringify(claim.attributes)) }),
      events: str(claim.events.join(' ')),
      ...(claim.participant && { participant: str(JSON.stringify(claim.participant)) }),
      ...(claim.record && { record: { BOOL: true } }),
    };
    await db(() => dynamo.send(new PutItemCommand({ TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })));
  }

  /** Reads a claim without taking it: lets the ingest check who the stream claims to be first. */
  async peek(region: string, ref: string): Promise<Claim | null> {
    const { dynamo, tableName } = this.tableFor(region);
    const { Item } = await db(() => dynamo.send(new GetItemCommand({ TableName: tableName, Key: claimKey(ref), ConsistentRead: true })));
    return Item ? fromItem(ref, Item) : null;
  }

  /**
   * Takes the claim for `takenBy` with one conditional write: it must be pending and unexpired at
   * `nowMs`. Exactly one taker can ever succeed; the others learn why they could not.
   */
  async take(region: string, ref: string, takenBy: string, nowMs: number = Date.now()): Promise<Claim | ClaimRefusal> {
    const { dynamo, tableName } = this.tableFor(region);
    try {
      const out = await db(() =>
        dynamo.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: claimKey(ref),
            UpdateExpression: 'SET #status = :claimed, takenBy = :by, takenAtMs = :now',
            ConditionExpression: '#status = :pending AND expiresAtMs > :now',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':claimed': str('claimed'), ':pending': str('pending'), ':by': str(takenBy), ':now': num(nowMs) },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return fromItem(ref, out.Attributes ?? {});
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const { Item } = await db(() => dynamo.send(new GetItemCommand({ TableName: tableName, Key: claimKey(ref), ConsistentRead: true })));
      if (!Item) return 'unknown';
      return readStr(Item, 'status') === 'pending' ? 'expired' : 'used';
    }
  }
}

function fromItem(ref: string, item: Item): Claim {
  return {
    ref,
    callUuid: readStr(item, 'callUuid'),
    callId: readStr(item, 'callId'),
    tenant: readStr(item, 'tenant'),
    connectorId: readStr(item, 'connectorId'),
    roomId: readStr(item, 'roomId'),
    ruleId: readOptStr(item, 'ruleId'),
    region: readStr(item, 'region'),
    from: readStr(item, 'from'),
    to: readStr(item, 'to'),
    expiresAtMs: readOptNum(item, 'expiresAtMs') ?? 0,
    agent: jsonFrom<AgentDial>(readOptStr(item, 'agent')),
    hidePhoneNumber: item.hidePhoneNumber?.BOOL === true,
    dtmf: item.dtmf?.BOOL !== false,
    attributes: jsonFrom<Record<string, string>>(readOptStr(item, 'attributes')) ?? {},
    events: eventsFrom(readOptStr(item, 'events')),
    ...(item.participant?.S && { participant: JSON.parse(item.participant.S) as CallParticipant }),
    ...(item.record?.BOOL === true && { record: true as const }),
  };
}

/** Written by `create` as a space-separated list (empty: none); absent from older claims, which outbox every event. */
function eventsFrom(list: string | null): readonly CallEventType[] {
  return list === null ? CALL_EVENT_TYPES : CALL_EVENT_TYPES.filter((type) => list.split(' ').includes(type));
}

/** Written by `create` from what the Answer URL validated. */
function jsonFrom<T>(json: string | null): T | null {
  return json ? (JSON.parse(json) as T) : null;
}

/** Claims for every configured media region, each in its region's own table. */
export function claimStoreFor(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient): ClaimStore {
  return new ClaimStore(regionTables(config, dynamo));
}
