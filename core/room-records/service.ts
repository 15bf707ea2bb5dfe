import { ROOM_ID } from '../connectors/schema';
import { BadRequestError, ConflictError, NotFoundError } from '../errors';
import { newRoomKey, newRoomRecordId, ROOM_RECORD_ID } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageRequest } from '../pagination';
import { targetProblem, WEBHOOK_SCHEMES } from '../webhooks/targets';
import { namedBy, roomName, toRoomView, type Room, type RoomView } from './model';
import type { CreateRoomInput } from './schema';
import type { RoomStore } from './store';

/** Ends a deactivated room's live session: its participants closed, its calls ended (`room-deactivated`). */
export interface RoomCloser {
  close(tenant: string, name: string): Promise<void>;
}

/** Rooms by the names they are joined by: what the Answer URL and the media server need of them. */
export class RoomNames {
  constructor(
    private readonly rooms: RoomStore,
    private readonly log: Logger,
  ) {}

  /**
   * The room joined by `name` (a routing rule's room, `?roomId`, a participant's), created on its first use so that
   * rooms nobody created keep working. One read (the name's copy of the room) when it exists; its first use also
   * writes it.
   */
  async joined(tenant: string, name: string): Promise<Room> {
    return (await this.named(tenant, name)) ?? this.create(tenant, namedBy(name, newRoomKey));
  }

  /** The room joined by `name` if it has a record, without creating one (one read). */
  named(tenant: string, name: string): Promise<Room | null> {
    return this.rooms.named(tenant, name);
  }

  /** A new room, or the room that holds its name already (another create of it won the race). */
  async create(tenant: string, fields: Pick<Room, 'roomId' | 'customRoomId' | 'webhook' | 'autoCloseConfig'>): Promise<Room> {
    const now = new Date().toISOString();
    const room: Room = { ...fields, id: newRoomRecordId(), tenant, disabled: false, createdAt: now, updatedAt: now };
    if (await this.rooms.claim(room)) {
      this.log.info('room created', { tenant, roomRecordId: room.id, roomId: roomName(room) });
      return room;
    }
    const winner = await this.rooms.byName(tenant, roomName(room));
    if (!winner) throw new Error(`Room ${roomName(room)} lost its name to a room that is not found`);
    return winner;
  }
}

/** Room use cases, each scoped to the calling tenant: another tenant's room does not exist. */
export class RoomService {
  private readonly names: RoomNames;

  constructor(
    private readonly deps: {
      readonly rooms: RoomStore;
      readonly closer: RoomCloser;
      /** Local mode only: a room's webhook may be at http://localhost and private addresses. */
      readonly allowPrivateTargets: boolean;
      readonly log: Logger;
    },
  ) {
    this.names = new RoomNames(deps.rooms, deps.log);
  }

  /** A new room; with a `customRoomId` some room holds already, that room (however many creates race). */
  async create(tenant: string, input: CreateRoomInput): Promise<RoomView> {
    const existing = input.customRoomId === undefined ? null : await this.deps.rooms.byName(tenant, input.customRoomId);
    if (existing) return toRoomView(existing);
    if (input.webhook) await this.checkEndpoint(input.webhook.endPoint);
    const { customRoomId, ...body } = input;
    return toRoomView(await this.names.create(tenant, { ...body, roomId: newRoomKey(), customRoomId: customRoomId ?? null }));
  }

  async list(tenant: string, request: PageRequest & { readonly query?: string | undefined }): Promise<NumberedPage<RoomView>> {
    const { query, ...page } = request;
    if (query === undefined) {
      const { data, pageInfo } = await this.deps.rooms.page(tenant, page);
      return { data: data.map(toRoomView), pageInfo };
    }
    const found = ROOM_ID.test(query) ? await this.deps.rooms.byName(tenant, query) : null;
    const matching = found && page.page === 1 ? [toRoomView(found)] : [];
    return { data: matching, pageInfo: { currentPage: page.page, perPage: page.perPage, lastPage: 1, total: found ? 1 : 0 } };
  }

  /** By `id`, `roomId` or `customRoomId`. */
  async get(tenant: string, ref: string): Promise<RoomView> {
    return toRoomView(await this.found(tenant, ref));
  }

  /**
   * Disables the room (for good: nothing enables it again): its names first, so joins stop, then its record; then ends
   * its live session through the media server holding it. Deactivating a disabled room answers it as it is, and
   * writes its names and ends its session again (what a deactivation that died midway left undone).
   */
  async deactivate(tenant: string, ref: string): Promise<RoomView> {
    const current = await this.found(tenant, ref);
    await this.deps.rooms.disable(current);
    let room = current;
    if (!current.disabled) {
      const updatedAt = new Date(Math.max(Date.now(), Date.parse(current.updatedAt) + 1)).toISOString();
      room = { ...current, disabled: true, updatedAt };
      if (!(await this.deps.rooms.replace(room, current.updatedAt))) throw new ConflictError('The room was changed concurrently; retry the request');
      this.deps.log.info('room deactivated', { tenant, roomRecordId: room.id, roomId: roomName(room) });
    }
    await this.deps.closer.close(tenant, roomName(room));
    return toRoomView(room);
  }

  /** A routing rule's or connector's room (`field`) may be any name, but not one of a disabled room: 400. */
  async checkUsable(tenant: string, name: string | null | undefined, field: string): Promise<void> {
    if (name) await this.usableName(tenant, name, field);
  }

  /**
   * The name a call is placed or switched into room `name` by (`field`): the one the room is kept by on media servers
   * (its `customRoomId` when it has one, though `name` is its `roomId`), or `name` itself for a room with no record
   * yet; a disabled room is a 400. One read.
   */
  async usableName(tenant: string, name: string, field: string): Promise<string> {
    const room = await this.deps.rooms.named(tenant, name);
    if (!room?.disabled) return room ? roomName(room) : name;
    const message = `room ${name} is deactivated`;
    throw new BadRequestError(`Invalid request body: ${field}: ${message}`, [{ field, message }]);
  }

  private async found(tenant: string, ref: string): Promise<Room> {
    const room = (ROOM_RECORD_ID.test(ref) && (await this.deps.rooms.get(tenant, ref))) || (ROOM_ID.test(ref) && (await this.deps.rooms.byName(tenant, ref)));
    if (!room) throw new NotFoundError(`Room ${ref} not found`);
    return room;
  }

  /** Room webhooks are delivered from the same place as SIP webhooks: the same address policy. */
  private async checkEndpoint(url: string): Promise<void> {
    const problem = await targetProblem(url, this.deps.allowPrivateTargets, WEBHOOK_SCHEMES);
    if (problem) throw new BadRequestError(`Invalid request body: webhook.endPoint: ${problem}`, [{ field: 'webhook.endPoint', message: problem }]);
  }
}
