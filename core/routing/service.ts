import type { AgentReferences } from '../agents/store';
import { BadRequestError, ConflictError, NotFoundError } from '../errors';
import { newRuleId, RULE_ID } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageRequest } from '../pagination';
import type { ConnectorStore } from '../connectors/store';
import type { RoomService } from '../room-records/service';
import { holdsNumber, toRuleView, type RoutingRule, type RoutingRuleView } from './model';
import type { RuleBody, RuleType, RuleUpdate } from './schema';
import type { InboundNumberStore, RoutingRuleStore } from './store';

/** What a listing may narrow to: `search` (case-insensitive) over name, numbers and tags; `type`. */
export interface RuleFilter {
  readonly search?: string;
  readonly type?: RuleType;
}

const fieldError = (field: string, message: string) => new BadRequestError(`Invalid request body: ${field}: ${message}`, [{ field, message }]);

/** Routing rule use cases, each scoped to the calling tenant. */
export class RoutingRuleService {
  constructor(
    private readonly deps: {
      readonly rules: RoutingRuleStore;
      readonly numbers: InboundNumberStore;
      readonly connectors: ConnectorStore;
      /** A rule's `agentId` references one of the tenant's agents (which then cannot be deleted) before the rule is written. */
      readonly agents: AgentReferences;
      /** Read to refuse a static room that exists and is deactivated. */
      readonly rooms: Pick<RoomService, 'checkUsable'>;
      readonly log: Logger;
    },
  ) {}

  async create(tenant: string, body: RuleBody): Promise<RoutingRuleView> {
    const now = new Date().toISOString();
    const rule: RoutingRule = { ...body, room: body.room ?? null, id: newRuleId(), tenant, createdAt: now, updatedAt: now };
    await this.check(rule);
    const agentId = await this.referenceAgent(rule, null);
    let held: string[] = [];
    try {
      held = await this.hold(rule, inboundNumbers(rule));
      await this.deps.rules.create(rule);
    } catch (err) {
      await Promise.all([this.release(rule, held), this.releaseAgent(tenant, agentId)]);
      throw err;
    }
    this.deps.log.info('routing rule created', { tenant, ruleId: rule.id, type: rule.type });
    return toRuleView(rule);
  }

  /**
   * A page of the tenant's rules, newest first. Unfiltered, by the counted keyset walk; filtered, from all of them
   * (at most MAX_RULES_PER_TENANT, the read the Answer URL makes on every call).
   */
  async list(tenant: string, request: PageRequest, filter: RuleFilter): Promise<NumberedPage<RoutingRuleView>> {
    if (filter.search === undefined && filter.type === undefined) {
      const { data, pageInfo } = await this.deps.rules.page(tenant, request);
      return { data: data.map(toRuleView), pageInfo };
    }
    const needle = filter.search?.toLowerCase();
    const matching = (await this.deps.rules.all(tenant))
      .filter((rule) => filter.type === undefined || rule.type === filter.type)
      .filter((rule) => needle === undefined || [rule.name, ...rule.phoneNumbers, ...rule.tags].some((text) => text.toLowerCase().includes(needle)))
      .reverse();
    const { page, perPage } = request;
    return {
      data: matching.slice((page - 1) * perPage, page * perPage).map(toRuleView),
      pageInfo: { currentPage: page, perPage, lastPage: Math.max(1, Math.ceil(matching.length / perPage)), total: matching.length },
    };
  }

  async get(tenant: string, id: string): Promise<RoutingRuleView> {
    return toRuleView(await this.found(tenant, id));
  }

  /**
   * Read, merge, then replace only if nobody changed it meanwhile (409 otherwise). Numbers and an agent it gains are
   * taken before the write, those it loses given back after it.
   */
  async update(tenant: string, id: string, changes: RuleUpdate): Promise<RoutingRuleView> {
    const current = await this.found(tenant, id);
    const defined = Object.fromEntries(Object.entries(changes).filter(([key, value]) => value !== undefined && key !== 'type'));
    // updatedAt is the version the conditional write checks: it must move even within one millisecond.
    const updatedAt = new Date(Math.max(Date.now(), Date.parse(current.updatedAt) + 1)).toISOString();
    const next: RoutingRule = { ...current, ...defined, id, tenant, updatedAt };
    await this.check(next, current);
    const before = inboundNumbers(current);
    const after = inboundNumbers(next);
    const agentId = await this.referenceAgent(next, current);
    let held: string[] = [];
    try {
      held = await this.hold(next, after.filter((number) => !before.includes(number)));
    } catch (err) {
      await this.releaseAgent(tenant, agentId);
      throw err;
    }
    if (!(await this.deps.rules.replace(next, current.updatedAt))) {
      // The write that won may hold some of the same numbers (holds are per rule): those stay. Agents are counted per
      // reference: this write's goes whatever the winner names.
      const winner = await this.deps.rules.get(tenant, id);
      const won = winner ? inboundNumbers(winner) : [];
      await Promise.all([this.release(next, held.filter((number) => !won.includes(number))), this.releaseAgent(tenant, agentId)]);
      if (!winner) throw new NotFoundError(`Routing rule ${id} not found`);
      throw new ConflictError('The routing rule was changed concurrently; retry the request');
    }
    await Promise.all([this.release(next, before.filter((number) => !after.includes(number))), this.releaseAgent(tenant, next.agentId === current.agentId ? null : current.agentId)]);
    this.deps.log.info('routing rule updated', { tenant, ruleId: id, fields: Object.keys(defined) });
    return toRuleView(next);
  }

  /** A rule that a connector names as its defaultRuleId cannot go: 409 naming those connectors. */
  async delete(tenant: string, id: string): Promise<void> {
    await this.found(tenant, id);
    const users = await this.deps.connectors.referencingRule(tenant, id);
    if (users.length) {
      throw new ConflictError(`Routing rule ${id} is the defaultRuleId of connector(s) ${users.join(', ')}; change them first`);
    }
    const deleted = await this.deps.rules.delete(tenant, id);
    if (!deleted) throw new NotFoundError(`Routing rule ${id} not found`);
    await Promise.all([this.release(deleted, inboundNumbers(deleted)), this.releaseAgent(tenant, deleted.agentId)]);
    this.deps.log.info('routing rule deleted', { tenant, ruleId: id });
  }

  private async found(tenant: string, id: string): Promise<RoutingRule> {
    const rule = RULE_ID.test(id) && (await this.deps.rules.get(tenant, id));
    if (!rule) throw new NotFoundError(`Routing rule ${id} not found`);
    return rule;
  }

  /** What the schema cannot see alone: which fields fit the rule's type, that its room is not deactivated. */
  private async check(rule: RoutingRule, previous?: RoutingRule): Promise<void> {
    if (rule.type === 'inbound' && !rule.room) throw fieldError('room', 'is required for an inbound rule');
    if (rule.type === 'inbound' && Object.keys(rule.headers).length) throw fieldError('headers', 'are for outbound rules (the SIP headers an outbound call sends)');
    if (rule.type === 'outbound' && Object.keys(rule.headersToAttributes).length) throw fieldError('headersToAttributes', 'are for inbound rules');
    // Only a room the write names anew: a rule keeps working on whatever else while its room is deactivated.
    if (rule.room?.type === 'static' && !(previous?.room?.type === 'static' && previous.room.id === rule.room.id)) await this.deps.rooms.checkUsable(rule.tenant, rule.room.id, 'room.id');
  }

  /**
   * References the rule's agent unless `before` (the rule as stored) names it already: 400 when the tenant has no such
   * agent. The agent referenced, to release should the rule not be written; null when none was.
   */
  private async referenceAgent(rule: RoutingRule, before: RoutingRule | null): Promise<string | null> {
    if (!rule.agentId || rule.agentId === before?.agentId) return null;
    if (!(await this.deps.agents.reference(rule.tenant, rule.agentId))) throw fieldError('agentId', `agent ${rule.agentId} not found`);
    return rule.agentId;
  }

  private async releaseAgent(tenant: string, agentId: string | null): Promise<void> {
    if (agentId) await this.deps.agents.release(tenant, agentId);
  }

  /**
   * Takes `numbers` for the rule, one conditional write each; on the first held by another rule, gives back those it
   * took and answers 409 naming that rule. Returns the numbers taken.
   */
  private async hold(rule: RoutingRule, numbers: readonly string[]): Promise<string[]> {
    const taken: string[] = [];
    for (const number of numbers) {
      if (await this.takeNumber(rule, number)) {
        taken.push(number);
        continue;
      }
      await this.release(rule, taken);
      const holder = await this.deps.numbers.holder(rule.tenant, number);
      throw new ConflictError(`${number} already belongs to inbound routing rule ${holder?.ruleId ?? '(another)'}; a number routes to one inbound rule`);
    }
    return taken;
  }

  /** Takes the number, or a settled hold whose rule no longer holds it (left by a write that died halfway). */
  private async takeNumber(rule: RoutingRule, number: string): Promise<boolean> {
    const { numbers, rules } = this.deps;
    if (await numbers.take(rule.tenant, number, rule.id)) return true;
    const holder = await numbers.holder(rule.tenant, number);
    if (!holder?.settled) return false;
    const owner = await rules.get(rule.tenant, holder.ruleId);
    if (owner && holdsNumber(owner, number)) return false;
    this.deps.log.warn('taking over a leftover number hold', { tenant: rule.tenant, ruleId: rule.id, leftBy: holder.ruleId });
    return numbers.take(rule.tenant, number, rule.id, holder.ruleId);
  }

  private async release(rule: RoutingRule, numbers: readonly string[]): Promise<void> {
    await Promise.all(numbers.map((number) => this.deps.numbers.release(rule.tenant, number, rule.id)));
  }
}

/** The numbers a rule must hold alone: an inbound rule's (an outbound rule's are caller ids, shared freely). */
const inboundNumbers = (rule: RoutingRule): string[] => (rule.type === 'inbound' ? [...new Set(rule.phoneNumbers)] : []);
