import { NotFoundError, ServiceUnavailableError } from '../errors';
import { DISPATCH_JOB_ID, newDispatchJobId } from '../ids';
import type { Logger } from '../log';
import { COMMAND_TTL_MS, newCommandId, type DispatchAgentCommand } from '../media-commands';
import type { RoomServers } from '../room-records/closer';
import type { RoomService } from '../room-records/service';
import { DISPATCH_TIMEOUT_MS, toDispatchJobView, type DispatchAgentInput, type DispatchJob, type DispatchJobView, type DynamoDispatchJobStore } from './dispatch';
import { agentDial } from './model';
import type { AgentStore } from './store';

/** What `POST /v2/agent/dispatch` answers in `data`. */
export interface DispatchAccepted {
  readonly success: true;
  readonly jobId: string;
  readonly status: DispatchJob['status'];
  readonly roomId: string;
  readonly agentId: string;
}

/**
 * `POST /v2/agent/dispatch` and `GET /v2/agent/dispatch/{jobId}`, scoped to the calling tenant: the agent and the job
 * are the tenant's (another tenant's are not found). The API cannot reach a media server: the job goes to the room's
 * server through its region's command queue (core/media-commands.ts), and that server records its outcome.
 */
export class AgentDispatchService {
  constructor(
    private readonly deps: {
      readonly agents: Pick<AgentStore, 'get'>;
      readonly jobs: Pick<DynamoDispatchJobStore, 'create' | 'get' | 'settle'>;
      /** The name a room is kept by on media servers; a 400 for a room that exists and is deactivated. */
      readonly rooms: Pick<RoomService, 'usableName'>;
      readonly servers: RoomServers;
      readonly log: Logger;
    },
  ) {}

  /**
   * Records the job (`pending`) and sends it to the room's media server, which dials the agent within a poll (a
   * second). A command that cannot be written fails the job (`unavailable`) and the request (503).
   */
  async dispatch(tenant: string, input: DispatchAgentInput): Promise<DispatchAccepted> {
    const roomId = (input.roomId ?? input.meetingId) as string;
    const agent = await this.deps.agents.get(tenant, input.agentId);
    if (!agent) throw new NotFoundError(`Agent ${input.agentId} not found`);
    // The media room is the one the room is kept by (asked by its roomId, a room kept under its customRoomId); the job
    // keeps the name it was asked with.
    const keptName = await this.deps.rooms.usableName(tenant, roomId, input.roomId !== undefined ? 'roomId' : 'meetingId');
    const server = await this.deps.servers.find(tenant, keptName);
    if (!server) throw new ServiceUnavailableError('No media server is serving to dial the agent from; retry');
    const now = Date.now();
    const job: DispatchJob = {
      id: newDispatchJobId(now),
      tenant,
      agentId: agent.id,
      roomId,
      status: 'pending',
      ...(input.metadata && { metadata: input.metadata }),
      deadlineMs: now + DISPATCH_TIMEOUT_MS,
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
    };
    await this.deps.jobs.create(job);
    const command: DispatchAgentCommand = {
      type: 'dispatch-agent',
      id: newCommandId(now),
      tenant,
      jobId: job.id,
      agentId: agent.id,
      roomId: keptName,
      agent: agentDial(agent, input.metadata),
      at: now,
      expiresAtMs: now + COMMAND_TTL_MS,
    };
    const log = this.deps.log.child({ tenant, jobId: job.id, agentId: agent.id, roomId, mediaServer: server.serverId, commandId: command.id });
    try {
      await server.commands.send(server.serverId, command);
    } catch (err) {
      log.error('dispatch-agent command not written: the dispatch failed', { err });
      await this.deps.jobs.settle(tenant, job.id, { status: 'failed', reason: 'unavailable' }).catch((failure: unknown) => log.error('could not record the dispatch as failed', { err: failure }));
      throw err;
    }
    log.info(server.holds ? "agent dispatch sent to the room's media server" : 'agent dispatch sent to a media server, to place the room', {});
    return { success: true, jobId: job.id, status: job.status, roomId, agentId: agent.id };
  }

  /** The tenant's job, as it stands (one pending past its deadline shows as failed, `timeout`). */
  async get(tenant: string, jobId: string): Promise<DispatchJobView> {
    const job = DISPATCH_JOB_ID.test(jobId) ? await this.deps.jobs.get(tenant, jobId) : null;
    if (!job) throw new NotFoundError(`Dispatch job ${jobId} not found`);
    return toDispatchJobView(job);
  }
}
