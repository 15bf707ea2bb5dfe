import { BadRequestError, ConflictError, NotFoundError } from '../errors';
import { newRuleId, RULE_ID } from '../ids';
import type { Logger } from '../log';
import { decodeCursor, encodeCursor } from '../pagination';
import type { ConnectorStore } from '../connectors/store';
import { toRuleView, type RoutingRule, type RoutingRuleView } from './model';
import { type RuleBody, type RuleUpdate } from './schema';
import type { RoutingRuleStore } from './store';
import { AGENT_SCHEMES, targetProblem } from '../webhooks/targets';

function found(id: string, rule: RoutingRule | null | false): RoutingRule {
  if (!rule) throw new NotFoundError(`Routing rule ${id} not found`);
  return rule;
}

/** Routing rule use cases, each scoped to the calling tenant. */
export class RoutingRuleService {
  constructor(
    private readonly rules: RoutingRuleStore,
    private readonly connectors: ConnectorStore,
    private readonly log: Logger,
    /** Local mode only: agents may be at ws://localhost and private addresses. */
    private readonly allowPrivateTargets: boolean,
  ) {}

  async create(tenant: string, body: RuleBody): Promise<RoutingRuleView> {
    await this.checkAgent(body.agent);
    const now = new Date().toISOString();
    const rule: RoutingRule = { ...body, agent: body.agent ?? null, id: newRuleId(), tenant, createdAt: now, updatedAt: now };
    await this.rules.create(rule);
    this.log.info('routing rule created', { tenant, ruleId: rule.id });
    return toRuleView(rule);
  }

  async list(tenant: string, limit: number, cursor?: string): Promise<{ items: RoutingRuleView[]; nextCursor: string | null }> {
    const page = await this.rules.list(tenant, limit, cursor === undefined ? undefined : decodeCursor(cursor, RULE_ID));
    return { items: page.items.map(toRuleView), nextCursor: page.lastId && encodeCursor(page.lastId) };
  }

  async get(tenant: string, id: string): Promise<RoutingRuleView> {
    return toRuleView(found(id, RULE_ID.test(id) && (await this.rules.get(tenant, id))));
  }

  /** Read, merge, then replace only if nobody changed it meanwhile (409 otherwise). */
  async update(tenant: string, id: string, changes: RuleUpdate): Promise<RoutingRuleView> {
    const current = found(id, RULE_ID.test(id) && (await this.rules.get(tenant, id)));
    await this.checkAgent(changes.agent);
    const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
    // updatedAt is the version the conditional write checks: it must move even within one millisecond.
    const updatedAt = new Date(Math.max(Date.now(), Date.parse(current.updatedAt) + 1)).toISOString();
    const next: RoutingRule = { ...current, ...defined, id, tenant, updatedAt };
    if (!(await this.rules.replace(next, current.updatedAt))) {
      found(id, await this.rules.get(tenant, id));
      throw new ConflictError('The routing rule was changed concurrently; retry the request');
    }
    this.log.info('routing rule updated', { tenant, ruleId: id, fields: Object.keys(defined) });
    return toRuleView(next);
  }

  /** A rule that a connector names as its defaultRuleId cannot go: 409 naming those connectors. */
  async delete(tenant: string, id: string): Promise<RoutingRuleView> {
    found(id, RULE_ID.test(id) && (await this.rules.get(tenant, id)));
    const users = await this.connectors.referencingRule(tenant, id);
    if (users.length) {
      throw new ConflictError(`Routing rule ${id} is the defaultRuleId of connector(s) ${users.join(', ')}; change them first`);
    }
    const deleted = found(id, await this.rules.delete(tenant, id));
    this.log.info('routing rule deleted', { tenant, ruleId: id });
    return toRuleView(deleted);
  }

  /** The bridge dials an agent from inside the media VPC: it must be a public wss:// endpoint, as webhooks must be public https. */
  private async checkAgent(agent: RuleBody['agent']): Promise<void> {
    if (!agent) return;
    const problem = await targetProblem(agent.url, this.allowPrivateTargets, AGENT_SCHEMES);
    if (problem) throw new BadRequestError(`Invalid agent url: ${problem}`, [{ field: 'agent.url', message: problem }]);
  }
}
