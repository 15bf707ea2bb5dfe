import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ControlPlaneConfig } from '../config';
import type { Logger } from '../log';
import { COMMAND_TTL_MS, MediaCommandStore, newCommandId } from '../media-commands';
import { PlacementStore } from '../placement';
import { distinctRegionTables } from '../region-tables';
import type { RoomCloser } from './service';

/**
 * Ends a room's live session where it lives: in each media region table, the room's placement names the server
 * holding it (a room lives on one server of a region), and a `close-room` command in that table reaches it within a
 * poll (COMMAND_POLL_MS). That server closes the room's participants and ends its calls, relayed ones included. A
 * room placed nowhere has no live session: nothing is sent.
 */
export function mediaRoomCloser(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient, log: Logger): RoomCloser {
  const regions = distinctRegionTables(config, dynamo).map(({ dynamo: client, tableName }) => ({
    placements: new PlacementStore(client, tableName),
    commands: new MediaCommandStore(client, tableName),
  }));
  return {
    async close(tenant, roomId) {
      await Promise.all(
        regions.map(async ({ placements, commands }) => {
          const placement = await placements.get(tenant, roomId);
          if (!placement) return;
          const now = Date.now();
          const command = { type: 'close-room', id: newCommandId(now), tenant, roomId, at: now, expiresAtMs: now + COMMAND_TTL_MS } as const;
          await commands.send(placement.serverId, command);
          log.info("close-room sent to the room's media server", { tenant, roomId, mediaServer: placement.serverId, commandId: command.id });
        }),
      );
    },
  };
}
