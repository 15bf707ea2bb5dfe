import { setTimeout as sleep } from 'node:timers/promises';
import type { DispatchFailure, DispatchOutcome, DynamoDispatchJobStore } from '../../../core/agents/dispatch';
import type { Logger } from '../../../core/log';
import { newCommandId, type DispatchAgentCommand, type MediaCommandStore } from '../../../core/media-commands';
import type { RoomHold, Seating } from '../cluster/seating';
import type { RoomRegistry } from '../room/registry';
import type { RoomSocket } from '../room/socket';
import { CLOSE } from '../transport/close-codes';
import { Refusal } from '../transport/refuse';
import { dialAgent, type DialOptions } from './agent';

/** How many times an outcome's write is tried while DynamoDB fails it (throttled, unreachable); the waits between double from SETTLE_BACKOFF_MS. */
export const SETTLE_ATTEMPTS = 4;
export const SETTLE_BACKOFF_MS = 100;

/** What became of an outcome: recorded; refused by its job (timed out, or settled otherwise); or never written (DynamoDB kept failing). */
export type Settled = 'recorded' | 'refused' | 'unwritten';

/** Records a dispatch's outcome on its job, retrying a failed write (bounded, with backoff); each failure is logged. */
export async function settleJob(jobs: Pick<DynamoDispatchJobStore, 'settle'>, tenant: string, jobId: string, outcome: DispatchOutcome, log: Logger): Promise<Settled> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (await jobs.settle(tenant, jobId, outcome)) return 'recorded';
      log.warn('agent dispatch outcome not recorded: the job has timed out', { status: outcome.status });
      return 'refused';
    } catch (err) {
      if (attempt >= SETTLE_ATTEMPTS) {
        log.error('could not record the agent dispatch outcome: giving up', { err, status: outcome.status, attempts: attempt });
        return 'unwritten';
      }
      log.warn('could not record the agent dispatch outcome: trying again', { err, status: outcome.status, attempt });
      await sleep(SETTLE_BACKOFF_MS * 2 ** (attempt - 1));
    }
  }
}

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
      return settleJob(this.deps.jobs, tenant, command.jobId, { status: 'failed', reason }, log);
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
      if (this.stopping.signal.aborted) return void (await fail('unavailable'));
      this.deps.rooms.counters.agentDialsFailed++;
      return void (await fail('unreachable'));
    }
    this.deps.agents.adopt(agent, hold);
    const settled = await settleJob(this.deps.jobs, tenant, command.jobId, { status: 'dispatched', participantId: agent.id }, log);
    if (settled !== 'refused') log.info('agent dispatched into the room', { participantId: agent.id, tookMs: Date.now() - startedMs, recorded: settled === 'recorded' });
    // The job timed out meanwhile and reads as failed: the agent must not stay in the room against it. One whose outcome
    // could not be written (logged) works on: its job reads as timed out once its deadline passes.
    else agent.close(CLOSE.ended, 'dispatch timed out');
  }

  /** The room was placed on another server meanwhile: the command goes there, once (a second move fails it). */
  private async passOn(command: DispatchAgentCommand, owner: string, fail: (reason: DispatchFailure) => Promise<Settled>, log: Logger): Promise<void> {
    if (command.forwarded) return void (await fail('unavailable'));
    try {
      await this.deps.commands.send(owner, { ...command, id: newCommandId(), forwarded: true });
      log.info("agent dispatch passed on to the room's media server", { owner });
    } catch (err) {
      log.error("agent dispatch could not be passed on to the room's media server", { owner, err });
      await fail('unavailable');
    }
  }
}
