import type { CallRoomEntry, SwitchFailure } from '../../../core/calls/model';
import type { Logger } from '../../../core/log';
import type { Placement } from '../../../core/placement';
import type { DispatchAgentCommand, MediaCommand, MediaCommandStore, RecordingCommand, SwitchRoomCommand } from '../../../core/media-commands';
import { Relay } from '../cluster/relay';
import type { RelayAuth } from '../cluster/relay-auth';
import { LOST, type RoomHold, type Seating } from '../cluster/seating';
import { CLOSE, type RoomEnding } from '../transport/close-codes';
import { UpgradeRefused } from '../transport/open-socket';
import type { PlivoStream } from '../plivo/stream';
import type { RoomRegistry } from '../room/registry';
import type { CallLifecycle } from './lifecycle';

/** How often a media server looks for its commands: a switch starts within this long of the API's answer. */
export const COMMAND_POLL_MS = 1000;

/** The calls this server holds the stream of, and the room hold each has. */
export interface HeldCalls {
  /** The tenant's call `callId`, when its stream is here: another tenant's call of the same id is not found. */
  find(tenant: string, callId: string): PlivoStream | undefined;
  /** The call now holds `hold` (its new room; null when that is on another server) instead of the one it had, which is given back. */
  rehold(stream: PlivoStream, hold: RoomHold | null): void;
}

export interface RoomSwitcherDeps {
  readonly serverId: string;
  readonly commands: MediaCommandStore;
  readonly seating: Pick<Seating, 'hold'>;
  /** Signs the legs of calls switched into rooms of other servers. */
  readonly relayAuth: RelayAuth;
  readonly rooms: RoomRegistry;
  readonly calls: HeldCalls;
  readonly lifecycle: CallLifecycle;
  /** Ends a room's live session here: it was deactivated (`close-room`), or its session ended (`end-session`). */
  readonly closeRoom: (tenant: string, roomId: string, why: RoomEnding) => void;
  /** Takes a participant out of its room here (`remove-participant`); false when it is not in the room here. */
  readonly removeParticipant: (tenant: string, roomId: string, participantId: string) => boolean;
  /** Dials an agent dispatched into a room (a `dispatch-agent` command: calls/dispatch.ts). */
  readonly dispatchAgent: (command: DispatchAgentCommand) => void;
  /** Starts or stops a recording (`start-recording`, `stop-recording`: recording/manager.ts). */
  readonly recording: (command: RecordingCommand) => void;
  readonly log: Logger;
  /** @default COMMAND_POLL_MS */
  readonly pollMs?: number;
}

/**
 * Runs the commands addressed to this server (core/media-commands.ts): polls them once a second; hands `close-room` and
 * `end-session` to `closeRoom`, `remove-participant` to `removeParticipant`, `dispatch-agent` to `dispatchAgent`, `start-recording` and
 * `stop-recording` to `recording`, and
 * moves each call a `switch-room` names, whose stream is here, into its new room in place, or records why it could not.
 * The command names the tenant and the room the API saw the call in: a call of another tenant, or one that moved
 * meanwhile, is not moved. Seat limits of the new room apply; a refused call stays where it was.
 */
export class RoomSwitcher {
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(private readonly deps: RoomSwitcherDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      // A poll that fails (the table unreachable) is logged; the next one tries again.
      this.polling ??= this.poll()
        .catch((err: unknown) => this.deps.log.error('switch-room commands not read', { err }))
        .finally(() => (this.polling = null));
    }, this.deps.pollMs ?? COMMAND_POLL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }

  private async poll(): Promise<void> {
    const commands = await this.deps.commands.take(this.deps.serverId, (id) => this.deps.log.warn('malformed media command dropped', { commandId: id }));
    // Taken is deleted: a command whose handling throws is logged, and the rest of the batch still runs.
    for (const command of commands) {
      const ids = { tenant: command.tenant, roomId: command.type === 'switch-room' ? command.fromRoomId : command.roomId, commandId: command.id };
      try {
        await this.handle(command, ids);
      } catch (err) {
        this.deps.log.error('media command failed: it is dropped', { ...ids, type: command.type, err });
      }
    }
  }

  private async handle(command: MediaCommand, ids: { tenant: string; roomId: string; commandId: string }): Promise<void> {
    switch (command.type) {
      // Late or not, a deactivated room's session ends: nothing may stay live in it.
      case 'close-room':
        this.deps.log.info('closing a deactivated room', ids);
        this.deps.closeRoom(command.tenant, command.roomId, 'room-deactivated');
        break;
      // Late or not: the session was live when the API was asked, and whoever joined since joined what it ended.
      case 'end-session':
        this.deps.log.info("ending a room's session", ids);
        this.deps.closeRoom(command.tenant, command.roomId, 'session-ended');
        break;
      case 'remove-participant':
        if (this.deps.removeParticipant(command.tenant, command.roomId, command.participantId)) this.deps.log.info('participant removed from its room', { ...ids, participantId: command.participantId });
        else this.deps.log.warn('participant to remove is not in its room here (it left)', { ...ids, participantId: command.participantId });
        break;
      // Dialled beside the poll (it may take seconds), its outcome recorded on its job.
      case 'dispatch-agent':
        this.deps.dispatchAgent(command);
        break;
      // Set up or finished beside the poll (S3 and table writes), each outcome on the recording's record.
      case 'start-recording':
      case 'stop-recording':
        this.deps.recording(command);
        break;
      case 'switch-room':
        await this.run(command);
    }
  }

  /** Moves the command's call, or records why not: a failure of its own is logged and recorded as `unavailable`. */
  async run(command: SwitchRoomCommand): Promise<void> {
    const log = this.deps.log.child({ tenant: command.tenant, callId: command.callId, commandId: command.id, from: command.fromRoomId, to: command.roomId });
    const stream = this.deps.calls.find(command.tenant, command.callId);
    const fail = (reason: SwitchFailure) => {
      log.warn('switch-room failed: the call stays in its room', { reason });
      return this.record(command, { event: 'switch-room-failed', from: command.fromRoomId, to: command.roomId, at: new Date().toISOString(), reason }, stream, log);
    };
    if (Date.now() > command.expiresAtMs) return fail('expired');
    if (!stream || stream.roomId !== command.fromRoomId) return fail('not-live');
    let hold: Awaited<ReturnType<Seating['hold']>>;
    try {
      hold = await this.deps.seating.hold(command.tenant, command.roomId, 1);
    } catch (err) {
      log.error('switch-room: the new room cannot be placed', { err });
      return fail('unavailable');
    }
    if ('limit' in hold) return fail(hold.limit === 'room-full' ? 'room-full' : 'room-limit');
    const startedMs = Date.now();
    const moved = hold.at === 'here' ? this.moveHere(stream, hold, command) : await this.moveAcross(stream, hold.owner, command, log);
    if (moved !== true) return fail(moved);
    log.info('call switched rooms', { participantId: stream.id, across: hold.at !== 'here', tookMs: Date.now() - startedMs });
    await this.record(command, { event: 'switch-room-completed', from: command.fromRoomId, to: command.roomId, at: new Date().toISOString() }, stream, log);
  }

  /** Into a room placed here, its seats held: in place, from one tick to the next. */
  private moveHere(stream: PlivoStream, hold: RoomHold, command: SwitchRoomCommand): true | SwitchFailure {
    if (!stream.moveTo(this.deps.rooms.get(command.tenant, command.roomId), command.participantId)) {
      hold.release();
      return stream.roomId === command.fromRoomId ? 'participant-id-taken' : 'not-live';
    }
    this.deps.calls.rehold(stream, hold);
    return true;
  }

  /**
   * Into a room of another server: the call's leg is relayed there (seated by that server, whose seat limits apply: a
   * full room answers 429) before the call leaves its room here, so the caller hears the new room as soon as it can.
   */
  private async moveAcross(stream: PlivoStream, owner: Placement, command: SwitchRoomCommand, log: Logger): Promise<true | SwitchFailure> {
    let relay: Relay;
    try {
      relay = await Relay.open(owner, this.deps.relayAuth, stream.leg(command.roomId, command.participantId), LOST.plivo, log);
    } catch (err) {
      log.warn("switch-room: the new room's server refused the call or cannot be reached", { owner: owner.serverId, err });
      return err instanceof UpgradeRefused && err.status === 429 ? 'room-full' : 'unavailable';
    }
    if (!stream.moveToRelay(relay, command.roomId)) {
      relay.close(CLOSE.ended, 'call ended');
      return 'not-live';
    }
    this.deps.calls.rehold(stream, null);
    return true;
  }

  private async record(command: SwitchRoomCommand, entry: CallRoomEntry, stream: PlivoStream | undefined, log: Logger): Promise<void> {
    try {
      const recorded = await this.deps.lifecycle.roomSwitch(command.tenant, command.callId, entry, command.id, stream?.subscribed);
      if (!recorded) log.warn('switch-room not recorded: the switch has its outcome already (the sweeper timed it out), or the call record moved on meanwhile', { event: entry.event });
    } catch (err) {
      log.error('could not record the switch-room', { err, event: entry.event });
    }
  }
}
