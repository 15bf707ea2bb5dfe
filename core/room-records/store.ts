import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore } from '../documents';
import { db, isConditionFailure, readStr, str } from '../dynamo';
import { roomName, type Room } from './model';

/** Storage port of room records, every call scoped to one tenant. */
export interface RoomStore {
  /**
   * Creates `room` under its name (`roomName`), decided by one conditional write: false, and nothing written, when a
   * room holds that name already (`byName` answers it).
   */
  claim(room: Room): Promise<boolean>;
  get(tenant: string, id: string): Promise<Room | null>;
  /** The room whose `customRoomId` or `roomId` is `name`. */
  byName(tenant: string, name: string): Promise<Room | null>;
  page: CountedDynamoDocumentStore<Room>['page'];
  replace(room: Room, expectedUpdatedAt: string): Promise<boolean>;
}

/**
 * Room records, counted per tenant (`RM#id`), and the names they are found by (`RMN#name`: its `customRoomId` and its
 * `roomId`), each holding the record's id and the record as created. The name is taken first, with one conditional
 * put: two creates of one name race there and one wins. The record (and its count) follow; a create that died in
 * between leaves a name whose record is missing, which the next lookup of the name writes from the copy it holds.
 */
export class DynamoRoomStore extends CountedDynamoDocumentStore<Room> implements RoomStore {
  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, { prefix: 'RM#', type: 'room' });
  }

  async claim(room: Room): Promise<boolean> {
    if (!(await this.putName(room, roomName(room)))) return false;
    await this.finish(room);
    return true;
  }

  async byName(tenant: string, name: string): Promise<Room | null> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: this.nameKey(tenant, name), ConsistentRead: true })));
    if (!out.Item) return null;
    const found = await this.get(tenant, readStr(out.Item, 'id'));
    if (found) return found;
    const created = this.fromItem(out.Item);
    await this.finish(created);
    return (await this.get(tenant, created.id)) ?? created;
  }

  /** The record and, for a room named by its `customRoomId`, the `roomId` name; either may exist already (a lookup finished the create). */
  private async finish(room: Room): Promise<void> {
    try {
      await this.create(room);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    if (room.customRoomId !== null) await this.putName(room, room.roomId);
  }

  private nameKey(tenant: string, name: string) {
    return { pk: str(`T#${tenant}`), sk: str(`RMN#${name}`) };
  }

  private async putName(room: Room, name: string): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: { ...this.toItem(room), ...this.nameKey(room.tenant, name), type: str('room-name') },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}
