import type { DocumentStore } from '../documents';
import { BadRequestError, ConflictError, NotFoundError } from '../errors';
import { AGENT_ID, newAgentId } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageRequest } from '../pagination';
import type { RoutingRule } from '../routing/model';
import { AGENT_SCHEMES, targetProblem } from '../webhooks/targets';
import { toAgentView, type Agent, type AgentView } from './model';
import type { AgentStore } from './store';
import type { AgentBody, AgentUpdate } from './schema';

/** Agent use cases, each scoped to the calling tenant. */
export class AgentService {
  constructor(
    private readonly deps: {
      readonly agents: AgentStore;
      /** Read to refuse deleting an agent that a rule dials. */
      readonly rules: Pick<DocumentStore<RoutingRule>, 'all'>;
      /** Local mode only: agents may be at ws://localhost and private addresses. */
      readonly allowPrivateTargets: boolean;
      readonly log: Logger;
    },
  ) {}

  async create(tenant: string, body: AgentBody): Promise<AgentView> {
    await this.checkUrl(body.url);
    const now = new Date().toISOString();
    const agent: Agent = { ...body, id: newAgentId(), tenant, createdAt: now, updatedAt: now };
    // The store refuses a create beyond MAX_AGENTS_PER_TENANT, whatever races it.
    await this.deps.agents.create(agent);
    this.deps.log.info('agent created', { tenant, agentId: agent.id });
    return toAgentView(agent);
  }

  async list(tenant: string, request: PageRequest): Promise<NumberedPage<AgentView>> {
    const { data, pageInfo } = await this.deps.agents.page(tenant, request);
    return { data: data.map(toAgentView), pageInfo };
  }

  async get(tenant: string, id: string): Promise<AgentView> {
    return toAgentView(await this.found(tenant, id));
  }

  /** Read, merge, then replace only if nobody changed it meanwhile (409 otherwise). */
  async update(tenant: string, id: string, changes: AgentUpdate): Promise<AgentView> {
    const current = await this.found(tenant, id);
    if (changes.url !== undefined) await this.checkUrl(changes.url);
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    const updatedAt = new Date(Math.max(Date.now(), Date.parse(current.updatedAt) + 1)).toISOString();
    const next: Agent = { ...current, ...defined, updatedAt };
    if (!(await this.deps.agents.replace(next, current.updatedAt))) {
      await this.found(tenant, id);
      throw new ConflictError('The agent was changed concurrently; retry the request');
    }
    this.deps.log.info('agent updated', { tenant, agentId: id, fields: Object.keys(defined) });
    return toAgentView(next);
  }

  /**
   * An agent that a routing rule dials cannot go: 409 naming those rules. Nor can one that a rule being written
   * references (`AgentStore`): the delete is conditional on that, so a rule racing it never names a deleted agent.
   */
  async delete(tenant: string, id: string): Promise<void> {
    await this.found(tenant, id);
    const users = (await this.deps.rules.all(tenant)).filter((rule) => rule.agentId === id).map((rule) => rule.id);
    if (users.length) throw new ConflictError(`Agent ${id} is the agentId of routing rule(s) ${users.join(', ')}; change them first`);
    if (!(await this.deps.agents.deleteUnreferenced(tenant, id))) {
      await this.found(tenant, id);
      throw new ConflictError(`Agent ${id} is named by a routing rule being written; retry the request`);
    }
    this.deps.log.info('agent deleted', { tenant, agentId: id });
  }

  private async found(tenant: string, id: string): Promise<Agent> {
    const agent = AGENT_ID.test(id) && (await this.deps.agents.get(tenant, id));
    if (!agent) throw new NotFoundError(`Agent ${id} not found`);
    return agent;
  }

  /** The bridge dials an agent from inside the media VPC: it must be a public wss:// endpoint, as webhooks must be public https. */
  private async checkUrl(url: string): Promise<void> {
    const problem = await targetProblem(url, this.deps.allowPrivateTargets, AGENT_SCHEMES);
    if (problem) throw new BadRequestError(`Invalid agent url: ${problem}`, [{ field: 'url', message: problem }]);
  }
}
