import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ControlPlaneConfig } from '../config';
import type { Logger } from '../log';
import { COMMAND_TTL_MS, MediaCommandStore, newCommandId, type RoomCommand } from '../media-commands';
import { PlacementStore } from '../placement';
import { distinctRegionTables } from '../region-tables';
import type { RoomCloser } from './service';

/** What a room command says besides what every command carries. */
export type RoomCommandBody = RoomCommand extends infer C ? (C extends RoomCommand ? Omit<C, 'id' | 'tenant' | 'at' | 'expiresAtMs'> : never) : never;

/** Tells the media server holding a room to act on it: whether some server held it (a room placed nowhere has no live session). */
export interface RoomCommandSender {
  send(tenant: string, body: RoomCommandBody): Promise<boolean>;
}

/**
 * Reaches a room where it lives: in each media region table, the room's placement names the server holding it (a
 * room lives on one server of a region), and a command in that table reaches it within a poll (COMMAND_POLL_MS). That
 * server acts on the room's participants and calls, relayed ones included. A room placed nowhere is sent nothing.
 */
export function roomCommandSender(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient, log: Logger): RoomCommandSender {
  const regions = distinctRegionTables(config, dynamo).map(({ dynamo: client, tableName }) => ({
    placements: new PlacementStore(client, tableName),
    commands: new MediaCommandStore(client, tableName),
  }));
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

/** Ends a deactivated room's live session where it lives: a `close-room` command to the server holding it. */
export function mediaRoomCloser(rooms: RoomCommandSender): RoomCloser {
  return {
    async close(tenant, roomId) {
      await rooms.send(tenant, { type: 'close-room', roomId });
    },
  };
}
