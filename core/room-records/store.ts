import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore } from '../documents';
import { db, isConditionFailure, str } from '../dynamo';
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
  /**
   * The copy of the room that its name `name` holds, in one read: what a join needs (its names, `disabled`), which
   * `disable` keeps current; its other fields are as the room was created.
   */
  named(tenant: string, name: string): Promise<Room | null>;
  /** Writes the room, disabled, over the copies its names hold (before its record: joins stop first). */
  disable(room: Room): Promise<void>;
  page: CountedDynamoDocumentStore<Room>['page'];
  replace(room: Room, expectedUpdatedAt: string): Promise<boolean>;
}

/**
 * Room records, counted per tenant (`RM#id`), and the names they are found by (`RMN#name`: its `customRoomId` and its
 * `roomId`), each holding a copy of the record: as created, `disabled` kept current, so a join reads the name alone.
 * The name is taken first, with one conditional put: two creates of one name race there and one wins. The record
 * (and its count) follow; a create that died in between leaves a name whose record is missing, which the next lookup
 * of the name writes from the copy it holds.
 */
export class DynamoRoomStore extends CountedDynamoDocumentStore<Room> implements RoomStore {
  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, { prefix: 'RM#', type: 'room' });
  }

  async claim(room: Room): Promise<boolean> {
    if (!(await this.writeName(room, roomName(room), true))) return false;
    await this.finish(room);
    return true;
  }

  async byName(tenant: string, name: string): Promise<Room | null> {
    const copy = await this.named(tenant, name);
    if (!copy) return null;
    const found = await this.get(tenant, copy.id);
    if (found) return found;
    await this.finish(copy);
    return (await this.get(tenant, copy.id)) ?? copy;
  }

  async named(tenant: string, name: string): Promise<Room | null> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: this.nameKey(tenant, name), ConsistentRead: true })));
    return out.Item ? this.fromItem(out.Item) : null;
  }

  async disable(room: Room): Promise<void> {
    const disabled = { ...room, disabled: true };
    const names = room.customRoomId === null ? [room.roomId] : [room.customRoomId, room.roomId];
    await Promise.all(names.map((name) => this.writeName(disabled, name)));
  }

  /** The record and, for a room named by its `customRoomId`, the `roomId` name; either may exist already (a lookup finished the create). */
  private async finish(room: Room): Promise<void> {
    try {
      await this.create(room);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    if (room.customRoomId !== null) await this.writeName(room, room.roomId, true);
  }

  private nameKey(tenant: string, name: string) {
    return { pk: str(`T#${tenant}`), sk: str(`RMN#${name}`) };
  }

  /** Writes `name`'s copy of the room, unless (`onlyNew`) the name is held already: false then. */
  private async writeName(room: Room, name: string, onlyNew = false): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: { ...this.toItem(room), ...this.nameKey(room.tenant, name), type: str('room-name') },
            ...(onlyNew && { ConditionExpression: 'attribute_not_exists(pk)' }),
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
