import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ControlPlaneConfig } from './config';
import { db, isConditionFailure, num, readOptNum, readStr, str, type Item } from './dynamo';
import { distinctRegionTables } from './region-tables';

/**
 * Where a media region's rooms live, in the region's own table (next to its claims). Each media server
 * keeps a leased record of itself, and a room lives on exactly one server: a leased placement record
 * taken with one conditional put (free, lapsed, or already ours), renewed by the owner's heartbeat and
 * taken over by whoever needs the room once the lease lapses. Leases are checked against the record's
 * own expiry on every read, never left to DynamoDB TTL (lazy).
 */

/** A media server as its peers and the sweeper see it. */
export interface MediaServerRecord {
  readonly serverId: string;
  /** The server's internal relay endpoint, `ws://<private address>:<port>`. */
  readonly relayUrl: string;
  /** The server's relay secret sealed by the KMS key (base64): peers that may open it sign their relay joins with it. */
  readonly sealedRelaySecret: string;
  /** `serving`, or `draining` once it stopped taking new streams; `stopped` when it exited cleanly. */
  readonly state: 'serving' | 'draining' | 'stopped';
  readonly leaseExpiresAtMs: number;
  /** How long a lease the server takes (it renews every third of it); unset in records of older servers. */
  readonly leaseMs?: number;
}

/** A room's owner: the server whose lease on it has not lapsed. */
export interface Placement {
  readonly tenant: string;
  readonly roomId: string;
  readonly serverId: string;
  readonly relayUrl: string;
  readonly sealedRelaySecret: string;
  readonly leaseExpiresAtMs: number;
}

/** The partition of the region's media server records (the API's grant on region tables names it: it picks a server to place a room). */
export const SERVERS_PK = 'SERVERS';
const serverKey = (serverId: string) => ({ pk: str(SERVERS_PK), sk: str(serverId) });
/** The room id (no `#` in it) first, then the tenant: another tenant's room of the same id is another room. */
/** The partition key prefix of room placements (the API's grant on region tables names it). */
export const PLACEMENT_PARTITION_PREFIX = 'ROOM#';
const roomKey = (tenant: string, roomId: string) => ({ pk: str(`${PLACEMENT_PARTITION_PREFIX}${roomId}`), sk: str(`T#${tenant}`) });
/** Records are lazily deleted a day after their lease, long after anyone reads them as live. */
const ttl = (leaseExpiresAtMs: number) => num(Math.ceil(leaseExpiresAtMs / 1000) + 86400);

export class PlacementStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** Writes (or renews) the server's own record. */
  async heartbeat(server: MediaServerRecord): Promise<void> {
    const item: Item = {
      ...serverKey(server.serverId),
      type: str('media-server'),
      relayUrl: str(server.relayUrl),
      sealedRelaySecret: str(server.sealedRelaySecret),
      state: str(server.state),
      leaseExpiresAtMs: num(server.leaseExpiresAtMs),
      ...(server.leaseMs !== undefined && { leaseMs: num(server.leaseMs) }),
      expiresAt: ttl(server.leaseExpiresAtMs),
    };
    await db(() => this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: item })));
  }

  /** Every server record of the region, live or not (a handful of items). */
  async servers(): Promise<MediaServerRecord[]> {
    const out = await db(() =>
      this.dynamo.send(
        new QueryCommand({ TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': str(SERVERS_PK) }, ConsistentRead: true }),
      ),
    );
    return (out.Items ?? []).map((item) => {
      const leaseMs = readOptNum(item, 'leaseMs');
      return {
        serverId: readStr(item, 'sk'),
        relayUrl: readStr(item, 'relayUrl'),
        sealedRelaySecret: readStr(item, 'sealedRelaySecret'),
        state: readStr(item, 'state') as MediaServerRecord['state'],
        leaseExpiresAtMs: readOptNum(item, 'leaseExpiresAtMs') ?? 0,
        ...(leaseMs !== null && { leaseMs }),
      };
    });
  }

  /** Forgets a server whose calls have been closed (the sweeper, after it lapsed). */
  async forgetServer(serverId: string, leaseExpiresAtMs: number): Promise<void> {
    try {
      await db(() =>
        this.dynamo.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: serverKey(serverId),
            // A server that came back meanwhile renewed its lease: keep it.
            ConditionExpression: 'leaseExpiresAtMs = :seen',
            ExpressionAttributeValues: { ':seen': num(leaseExpiresAtMs) },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /**
   * Places the room on `server` unless another server holds a live lease on it: one conditional put.
   * Returns the placement that holds after the call: ours, or the live owner's.
   */
  async place(tenant: string, roomId: string, server: Omit<MediaServerRecord, 'state'>, nowMs: number = Date.now()): Promise<Placement> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.putPlacement(tenant, roomId, server, 'attribute_not_exists(pk) OR leaseExpiresAtMs < :now OR serverId = :me', nowMs)) return { tenant, roomId, ...server };
      const owner = await this.get(tenant, roomId, nowMs);
      // Null: the owner's lease lapsed (or it let go) between the put and the read; try again.
      if (owner) return owner;
    }
    throw new Error(`Room ${roomId} could not be placed: its placement kept changing`);
  }

  /** The room's live placement, or null when nobody holds an unexpired lease on it. */
  async get(tenant: string, roomId: string, nowMs: number = Date.now()): Promise<Placement | null> {
    const { Item } = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: roomKey(tenant, roomId), ConsistentRead: true })));
    if (!Item) return null;
    const leaseExpiresAtMs = readOptNum(Item, 'leaseExpiresAtMs') ?? 0;
    if (leaseExpiresAtMs <= nowMs) return null;
    return {
      tenant,
      roomId,
      serverId: readStr(Item, 'serverId'),
      relayUrl: readStr(Item, 'relayUrl'),
      sealedRelaySecret: readStr(Item, 'sealedRelaySecret'),
      leaseExpiresAtMs,
    };
  }

  /**
   * Extends the server's lease on the room; false when another server has taken it over. Writes the whole
   * record, so a placement deleted by a release that raced a re-placement here is restored.
   */
  renew(tenant: string, roomId: string, server: Omit<MediaServerRecord, 'state'>): Promise<boolean> {
    return this.putPlacement(tenant, roomId, server, 'attribute_not_exists(pk) OR serverId = :me');
  }

  private async putPlacement(tenant: string, roomId: string, server: Omit<MediaServerRecord, 'state'>, condition: string, nowMs?: number): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: {
              ...roomKey(tenant, roomId),
              type: str('placement'),
              serverId: str(server.serverId),
              relayUrl: str(server.relayUrl),
              sealedRelaySecret: str(server.sealedRelaySecret),
              leaseExpiresAtMs: num(server.leaseExpiresAtMs),
              expiresAt: ttl(server.leaseExpiresAtMs),
            },
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':me': str(server.serverId), ...(nowMs !== undefined && { ':now': num(nowMs) }) },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Lets the room go (nobody uses it on `serverId` any more), unless the record changed since that server
   * wrote the lease `leaseExpiresAtMs`: another server took it, or this one placed it again meanwhile.
   */
  async release(tenant: string, roomId: string, serverId: string, leaseExpiresAtMs: number): Promise<void> {
    try {
      await db(() =>
        this.dynamo.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: roomKey(tenant, roomId),
            ConditionExpression: 'serverId = :me AND leaseExpiresAtMs = :lease',
            ExpressionAttributeValues: { ':me': str(serverId), ':lease': num(leaseExpiresAtMs) },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}

/** One placement store per distinct media region table (locally, every region shares one table). */
export function placementStores(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient): PlacementStore[] {
  return distinctRegionTables(config, dynamo).map(({ dynamo: client, tableName }) => new PlacementStore(client, tableName));
}
