import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ControlPlaneConfig } from '../config';
import type { Logger } from '../log';
import { COMMAND_TTL_MS, MediaCommandStore, newCommandId, type RoomCommand } from '../media-commands';
import { PlacementStore } from '../placement';
import { distinctRegionTables, regionTables, type RegionTable } from '../region-tables';
import type { RoomCloser } from './service';

/** What a room command says besides what every command carries. */
export type RoomCommandBody = RoomCommand extends infer C ? (C extends RoomCommand ? Omit<C, 'id' | 'tenant' | 'at' | 'expiresAtMs'> : never) : never;

/** Tells the media server holding a room to act on it: whether some server held it (a room placed nowhere has no live session). */
export interface RoomCommandSender {
  send(tenant: string, body: RoomCommandBody): Promise<boolean>;
}

/** A media region table's room placements and its servers' command queue. */
interface RegionRooms {
  readonly placements: PlacementStore;
  readonly commands: MediaCommandStore;
}

const regionRooms = ({ dynamo, tableName }: RegionTable): RegionRooms => ({ placements: new PlacementStore(dynamo, tableName), commands: new MediaCommandStore(dynamo, tableName) });

/**
 * Reaches a room where it lives: in each media region table, the room's placement names the server holding it (a
 * room lives on one server of a region), and a command in that table reaches it within a poll (COMMAND_POLL_MS). That
 * server acts on the room's participants and calls, relayed ones included. A room placed nowhere is sent nothing.
 */
export function roomCommandSender(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient, log: Logger): RoomCommandSender {
  const regions = distinctRegionTables(config, dynamo).map(regionRooms);
  return {
    async send(tenant, body) {
      const sent = await Promise.all(
        regions.map(async ({ placements, commands }) => {
          const placement = await placements.get(tenant, body.roomId);
          if (!placement) return false;
          const now = Date.now();
          const command: RoomCommand = { ...body, id: newCommandId(now), tenant, at: now, expiresAtMs: now + COMMAND_TTL_MS };
          await commands.send(placement.serverId, command);
          log.info(`${command.type} sent to the room's media server`, { tenant, roomId: body.roomId, mediaServer: placement.serverId, commandId: command.id });
          return true;
        }),
      );
      return sent.includes(true);
    },
  };
}

/**
 * How long a request that sent a room command waits for the media server to record its outcome (it polls its commands
 * every second: `POST /v2/sessions/end`, `POST /v2/recordings/end`) before it answers the record as it stands.
 */
export const OUTCOME_WAIT_MS = 3_000;
const OUTCOME_POLL_MS = 200;

/** What `read` answers once `done` holds of it, read every 200 ms for at most OUTCOME_WAIT_MS; null when it did not hold in time. */
export async function outcomeWithin<T>(read: () => Promise<T | null>, done: (value: T) => boolean): Promise<T | null> {
  const deadline = Date.now() + OUTCOME_WAIT_MS;
  while (Date.now() < deadline) {
    await sleep(OUTCOME_POLL_MS);
    const value = await read();
    if (value !== null && done(value)) return value;
  }
  return null;
}

/** Ends a deactivated room's live session where it lives: a `close-room` command to the server holding it. */
export function mediaRoomCloser(rooms: RoomCommandSender): RoomCloser {
  return {
    async close(tenant, roomId) {
      await rooms.send(tenant, { type: 'close-room', roomId });
    },
  };
}

/** A media server a command about a room goes to, and its queue. */
export interface RoomServer {
  readonly serverId: string;
  readonly commands: MediaCommandStore;
  /** Whether it holds the room now; else it is a serving server of the home region, which will place the room. */
  readonly holds: boolean;
}

/** Finds the media server to tell about a room (an agent dispatched into it). */
export interface RoomServers {
  /** The server holding the room; or, the room live nowhere, a serving one of the home region; null when none serves. */
  find(tenant: string, roomId: string): Promise<RoomServer | null>;
}

/**
 * The room's holder from its placement in any region table, as `roomCommandSender` finds it; for a room placed nowhere, one of
 * the home region's serving servers (their own records, a handful of items), picked at random, as the load balancer
 * picks one for a stream: that server places the room on itself as a stream landing there would.
 */
export function mediaRoomServers(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws' | 'homeMediaRegion'>, dynamo: DynamoDBClient): RoomServers {
  const regions = distinctRegionTables(config, dynamo).map(regionRooms);
  const home = regionRooms(regionTables(config, dynamo)(config.homeMediaRegion));
  return {
    async find(tenant, roomId) {
      const placed = await Promise.all(regions.map(async (region) => ({ region, placement: await region.placements.get(tenant, roomId) })));
      const holder = placed.find(({ placement }) => placement);
      if (holder?.placement) return { serverId: holder.placement.serverId, commands: holder.region.commands, holds: true };
      const now = Date.now();
      const serving = (await home.placements.servers()).filter((server) => server.state === 'serving' && server.leaseExpiresAtMs > now);
      const server = serving[Math.floor(Math.random() * serving.length)];
      return server ? { serverId: server.serverId, commands: home.commands, holds: false } : null;
    },
  };
}
