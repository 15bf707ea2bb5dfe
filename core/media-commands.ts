import { DeleteItemCommand, PutItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { agentDialSchema } from './agents/schema';
import { ROOM_ID } from './connectors/schema';
import { db, isConditionFailure, num, readStr, str } from './dynamo';
import type { ControlPlaneConfig } from './config';
import { timeOrderedId } from './ids';
import { regionTables } from './region-tables';

/**
 * Commands from the control plane to one media server, in its media region's table: the API (a Lambda outside the
 * VPC, which cannot reach a task's private port) writes one addressed to the server holding the call, and that server
 * queries its own commands once a poll (COMMAND_POLL_MS, a second) and executes each it manages to take. Taking is a
 * conditional delete, so a command runs once even if two polls see it; one past its expiry is taken and reported as
 * expired, never run. Nothing per audio frame: a command is a few hundred bytes, written once and read once.
 */

/** A command waits this long at most; the media server polls every second, so only a server in trouble lets it lapse. */
export const COMMAND_TTL_MS = 10_000;
/** A poll takes at most this many commands; more wait for the next one. */
export const COMMANDS_PER_POLL = 25;

const text = z.string().min(1).max(128);
const common = {
  id: text,
  tenant: text,
  /** When it was written (epoch ms): commands run in this order. */
  at: z.number(),
  expiresAtMs: z.number(),
};
/** Moves a call's stream to room `roomId` (`POST /v2/sip/call/switch-room`); `fromRoomId` is where the API saw it. */
const switchRoomCommandSchema = z.strictObject({
  type: z.literal('switch-room'),
  ...common,
  callId: text,
  fromRoomId: z.string().regex(ROOM_ID),
  roomId: z.string().regex(ROOM_ID),
  participantId: z.string().regex(ROOM_ID).max(64).optional(),
});
/** Ends room `roomId`'s live session: it was deactivated (`POST /v2/rooms/deactivate`). */
const closeRoomCommandSchema = z.strictObject({ type: z.literal('close-room'), ...common, roomId: z.string().regex(ROOM_ID) });
/** Ends room `roomId`'s live session, which may start again with its next join (`POST /v2/sessions/end`). */
const endSessionCommandSchema = z.strictObject({ type: z.literal('end-session'), ...common, roomId: z.string().regex(ROOM_ID) });
/** Takes participant `participantId` out of room `roomId` (`POST /v2/sessions/participants/remove`). */
const removeParticipantCommandSchema = z.strictObject({ type: z.literal('remove-participant'), ...common, roomId: z.string().regex(ROOM_ID), participantId: text });
/**
 * Dials agent `agentId` (`agent`: its url, rate and metadata) into room `roomId` for dispatch job `jobId`
 * (`POST /v2/agent/dispatch`). Sent to the room's server, or to any serving one when the room is live nowhere; a server
 * that finds the room placed on another passes it on there once (`forwarded`).
 */
const dispatchAgentCommandSchema = z.strictObject({
  type: z.literal('dispatch-agent'),
  ...common,
  jobId: text,
  agentId: text,
  roomId: z.string().regex(ROOM_ID),
  agent: agentDialSchema,
  forwarded: z.literal(true).optional(),
});
/** Starts room recording `recordingId` (its record written by the API, `recording`) of room `roomId` (`POST /v2/recordings/start`). */
const startRecordingCommandSchema = z.strictObject({ type: z.literal('start-recording'), ...common, roomId: z.string().regex(ROOM_ID), recordingId: text });
/** Stops recording `recordingId` of room `roomId` (`POST /v2/recordings/end`): its segments are assembled, it ends `completed`. */
const stopRecordingCommandSchema = z.strictObject({ type: z.literal('stop-recording'), ...common, roomId: z.string().regex(ROOM_ID), recordingId: text });
export const mediaCommandSchema = z.discriminatedUnion('type', [
  switchRoomCommandSchema,
  closeRoomCommandSchema,
  endSessionCommandSchema,
  removeParticipantCommandSchema,
  dispatchAgentCommandSchema,
  startRecordingCommandSchema,
  stopRecordingCommandSchema,
]);
export type MediaCommand = z.output<typeof mediaCommandSchema>;
export type SwitchRoomCommand = z.output<typeof switchRoomCommandSchema>;
export type CloseRoomCommand = z.output<typeof closeRoomCommandSchema>;
export type DispatchAgentCommand = z.output<typeof dispatchAgentCommandSchema>;
export type RecordingCommand = z.output<typeof startRecordingCommandSchema> | z.output<typeof stopRecordingCommandSchema>;
/**
 * A command about a room as a whole or one of its members, run by the server holding the room (a dispatch is not one:
 * for a room live nowhere it goes to a server that will place it).
 */
export type RoomCommand = Exclude<MediaCommand, SwitchRoomCommand | DispatchAgentCommand>;

/** How every command's partition key starts (then the server's id): the API's grant on a region's table is to these items alone. */
export const COMMAND_PARTITION_PREFIX = 'CMD#';
const commandPartition = (serverId: string) => str(`${COMMAND_PARTITION_PREFIX}${serverId}`);
const commandKey = (serverId: string, id: string) => ({ pk: commandPartition(serverId), sk: str(id) });

/** A new command's id: time-ordered, so a server's commands are read oldest first. */
export const newCommandId = (now?: number): string => timeOrderedId('cmd_', now);

export class MediaCommandStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** Writes `command` for media server `serverId`. */
  async send(serverId: string, command: MediaCommand): Promise<void> {
    await db(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...commandKey(serverId, command.id),
            type: str('media-command'),
            command: str(JSON.stringify(command)),
            // Lazily deleted a day after it lapsed: nobody runs it by then (every take checks `expiresAtMs`).
            expiresAt: num(Math.ceil(command.expiresAtMs / 1000) + 86400),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
  }

  /**
   * Takes the server's waiting commands, oldest first (at most COMMANDS_PER_POLL): each is deleted as it is taken,
   * and one another poll took first is left out. A malformed one is taken and dropped (`onBad`).
   */
  async take(serverId: string, onBad: (id: string) => void): Promise<MediaCommand[]> {
    const out = await db(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': commandPartition(serverId) },
          ConsistentRead: true,
          Limit: COMMANDS_PER_POLL,
        }),
      ),
    );
    const taken: MediaCommand[] = [];
    for (const item of out.Items ?? []) {
      const id = readStr(item, 'sk');
      if (!(await this.remove(serverId, id))) continue;
      const parsed = mediaCommandSchema.safeParse(safeJson(item.command?.S));
      if (parsed.success && parsed.data.id === id) taken.push(parsed.data);
      else onBad(id);
    }
    return taken;
  }

  /** Deletes the command; false when it was gone already (another poll took it). */
  private async remove(serverId: string, id: string): Promise<boolean> {
    try {
      await db(() => this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: commandKey(serverId, id), ConditionExpression: 'attribute_exists(pk)' })));
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}

/** The command queue of each configured media region (its table), one store per region, made on first use. */
export function mediaCommands(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'aws'>, dynamo: DynamoDBClient): (regionId: string) => MediaCommandStore {
  const tableOf = regionTables(config, dynamo);
  const stores = new Map<string, MediaCommandStore>();
  return (regionId) => {
    let store = stores.get(regionId);
    if (!store) {
      const { dynamo: client, tableName } = tableOf(regionId);
      stores.set(regionId, (store = new MediaCommandStore(client, tableName)));
    }
    return store;
  };
}

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? null : JSON.parse(text);
  } catch {
    return null;
  }
}
