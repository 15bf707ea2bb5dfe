import type { DispatchFailure, DynamoDispatchJobStore } from '../../../core/agents/dispatch';
import type { Logger } from '../../../core/log';
import { newCommandId, type DispatchAgentCommand, type MediaCommandStore } from '../../../core/media-commands';
import type { RoomHold, Seating } from '../cluster/seating';
import type { RoomRegistry } from '../room/registry';
import type { RoomSocket } from '../room/socket';
import { CLOSE } from '../transport/close-codes';
import { Refusal } from '../transport/refuse';
import { dialAgent, type DialOptions } from './agent';

/** Where a dispatched agent lives once it answered: among the server's participants, holding its room until it closes. */
export interface DispatchedAgents {
  adopt(agent: RoomSocket, hold: RoomHold): void;
}

export interface AgentDispatcherDeps {
  /** Passes a dispatch on to the server its room is placed on. */
  readonly commands: Pick<MediaCommandStore, 'send'>;
  readonly jobs: Pick<DynamoDispatchJobStore, 'settle'>;
  readonly seating: Pick<Seating, 'holdConnection'>;
  readonly rooms: RoomRegistry;
  readonly agents: DispatchedAgents;
  /**
   * Admits the dispatch to the room's record as a participant's join is (RoomGate: recorded on first use, read at most
   * every 5 s): the name the room is kept by; throws a `Refusal` (`room_deactivated`) for a deactivated room.
   */
  readonly admit: (tenant: string, name: string) => Promise<string>;
  readonly dial: DialOptions;
  readonly log: Logger;
}

/**
 * Runs `dispatch-agent` commands (`POST /v2/agent/dispatch`): places the room here (or passes the command on, once, to
 * the server holding it), takes a seat and a connection slot, dials the agent with the routing rules' `dialAgent`, and
 * records the job's outcome: `dispatched` with the agent's participant id, or `failed` with why. Dials run beside the
 * command poll, never blocking it; `stop` aborts those still dialling.
 */
export class AgentDispatcher {
  private readonly dialling = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly deps: AgentDispatcherDeps) {}

  /** Starts the dispatch; its failures are recorded on its job and logged, never thrown. */
  dispatch(command: DispatchAgentCommand): void {
    const log = this.deps.log.child({ tenant: command.tenant, jobId: command.jobId, agentId: command.agentId, roomId: command.roomId, commandId: command.id });
    const run = this.run(command, log)
      .catch((err: unknown) => log.error('agent dispatch failed', { err }))
      .finally(() => this.dialling.delete(run));
    this.dialling.add(run);
  }

  /** Aborts the dials under way and waits for them to be recorded. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.dialling);
  }

  private async run(command: DispatchAgentCommand, log: Logger): Promise<void> {
    const { tenant } = command;
    const fail = (reason: DispatchFailure) => {
      log.warn('agent dispatch failed', { reason });
      return this.settle(command, { status: 'failed', reason }, log);
    };
    if (Date.now() > command.expiresAtMs) return void (await fail('expired'));
    let roomId: string;
    let hold: Awaited<ReturnType<Seating['holdConnection']>>;
    try {
      roomId = await this.deps.admit(tenant, command.roomId);
      hold = await this.deps.seating.holdConnection(tenant, roomId);
    } catch (err) {
      if (err instanceof Refusal && err.code === 'room_deactivated') return void (await fail('room-deactivated'));
      log.error('agent dispatch: the room cannot be placed here', { err });
      return void (await fail('unavailable'));
    }
    if ('limit' in hold) return void (await fail(hold.limit));
    if (hold.at === 'elsewhere') return this.passOn(command, hold.owner.serverId, fail, log);
    const startedMs = Date.now();
    const welcome = { dispatch: { jobId: command.jobId }, ...(command.agent.metadata && { metadata: command.agent.metadata }) };
    const agent = await dialAgent(command.agent, () => this.deps.rooms.get(tenant, roomId), welcome, log, this.stopping.signal, this.deps.dial);
    if (!agent) {
      hold.release();
      return void (await fail(this.stopping.signal.aborted ? 'unavailable' : 'unreachable'));
    }
    this.deps.agents.adopt(agent, hold);
    if (await this.settle(command, { status: 'dispatched', participantId: agent.id }, log)) log.info('agent dispatched into the room', { participantId: agent.id, tookMs: Date.now() - startedMs });
    // The job timed out meanwhile and reads as failed: the agent must not stay in the room against it.
    else agent.close(CLOSE.ended, 'dispatch timed out');
  }

  /** The room was placed on another server meanwhile: the command goes there, once (a second move fails it). */
  private async passOn(command: DispatchAgentCommand, owner: string, fail: (reason: DispatchFailure) => Promise<boolean>, log: Logger): Promise<void> {
    if (command.forwarded) return void (await fail('unavailable'));
    try {
      await this.deps.commands.send(owner, { ...command, id: newCommandId(), forwarded: true });
      log.info("agent dispatch passed on to the room's media server", { owner });
    } catch (err) {
      log.error("agent dispatch could not be passed on to the room's media server", { owner, err });
      await fail('unavailable');
    }
  }

  /** Records the outcome; false when the job would not take it (timed out), or it could not be written (logged). */
  private async settle(command: DispatchAgentCommand, outcome: Parameters<DynamoDispatchJobStore['settle']>[2], log: Logger): Promise<boolean> {
    try {
      const settled = await this.deps.jobs.settle(command.tenant, command.jobId, outcome);
      if (!settled) log.warn('agent dispatch outcome not recorded: the job has timed out', { status: outcome.status });
      return settled;
    } catch (err) {
      log.error('could not record the agent dispatch outcome', { err, status: outcome.status });
      return false;
    }
  }
}
