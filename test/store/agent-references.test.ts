import { setTimeout as sleep } from 'node:timers/promises';
import { createAgentSchema } from '../../core/agents/schema';
import { AgentService } from '../../core/agents/service';
import { DynamoAgentStore } from '../../core/agents/store';
import { DynamoConnectorStore } from '../../core/connectors/store';
import { createLogger } from '../../core/log';
import { createRuleSchema } from '../../core/routing/schema';
import { RoutingRuleService } from '../../core/routing/service';
import { RoomService } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { DynamoRoutingRuleStore, InboundNumberStore } from '../../core/routing/store';
import { storeBackends, useStoreTable } from '../support/store-backends';

/**
 * A rule's `agentId` against the agent's delete (core/agents/store.ts `DynamoAgentStore`): raced on the real store,
 * a rule never ends up naming a deleted agent, and an agent is never deleted while a rule names it.
 */
describe.each(storeBackends)('agent references on %s', (name, start) => {
  const TABLE = 'agent-refs';
  const db = useStoreTable(start, TABLE);
  const log = createLogger('error');
  const services = (settleMs = 60_000) => {
    const agents = new DynamoAgentStore(db.dynamo, TABLE, settleMs);
    const rules = new DynamoRoutingRuleStore(db.dynamo, TABLE);
    return {
      agents: new AgentService({ agents, rules, allowPrivateTargets: true, log }),
      rules: new RoutingRuleService({
        rules,
        numbers: new InboundNumberStore(db.dynamo, TABLE),
        connectors: new DynamoConnectorStore(db.dynamo, TABLE),
        agents,
        rooms: new RoomService({ rooms: new DynamoRoomStore(db.dynamo, TABLE), closer: { close: () => Promise.resolve() }, allowPrivateTargets: true, log }),
        log,
      }),
      ruleStore: rules,
      agentStore: agents,
    };
  };
  const newAgent = (tenant: string) => services().agents.create(tenant, createAgentSchema.parse({ name: 'a', url: 'ws://127.0.0.1:9/agent' }));
  const rule = (agentId: string | null) => createRuleSchema.parse({ name: 'r', type: 'outbound', agentId, room: { type: 'static', id: 'r' } });
  /** Settles to the outcome, or to the error's status. */
  const outcome = (work: Promise<unknown>) => work.then(
    () => 'ok' as const,
    (err: { status?: number }) => err.status ?? err,
  );

  /** Every rule of `tenant` names an agent that exists. */
  async function expectNoDangling(tenant: string): Promise<void> {
    const { ruleStore, agentStore } = services();
    for (const r of await ruleStore.all(tenant)) if (r.agentId) expect([r.id, await agentStore.get(tenant, r.agentId)]).toEqual([r.id, expect.objectContaining({ id: r.agentId })]);
  }

  it(`${name}: a rule created, or patched to the agent, while the agent is deleted: one of the two loses, never both win`, async () => {
    const tenant = 'race';
    const { agents, rules } = services();
    const seen = { ruleWon: 0, deleteWon: 0 };
    for (let round = 0; round < 40; round++) {
      const agent = await newAgent(tenant);
      const patched = round % 2 === 1 ? await rules.create(tenant, rule(null)) : null;
      // The write starts 0-7 ms after the delete (which reads twice before it deletes), so the two interleave
      // differently round by round.
      const [write, del] = await Promise.all([
        outcome(sleep(round % 8).then(() => (patched ? rules.update(tenant, patched.id, { agentId: agent.id }) : rules.create(tenant, rule(agent.id))))),
        outcome(agents.delete(tenant, agent.id)),
      ]);
      // Exactly one wins: the rule names the live agent (delete 409), or the agent is gone (the write 400: not found).
      expect({ round, write, del }).toEqual({ round, ...(write === 'ok' ? { write, del: 409 } : { write: 400, del: 'ok' }) });
      if (write === 'ok') seen.ruleWon++;
      else seen.deleteWon++;
      await expectNoDangling(tenant);
      for (const r of await services().ruleStore.all(tenant)) await rules.delete(tenant, r.id);
      if (write === 'ok') await agents.delete(tenant, agent.id);
    }
    // Both outcomes happened: the rounds really raced.
    expect(seen.ruleWon).toBeGreaterThan(0);
    expect(seen.deleteWon).toBeGreaterThan(0);
  }, 120_000);

  it(`${name}: a rule moved to another agent, or deleted, lets its agent go; a write refused lets go of the agent it referenced`, async () => {
    const tenant = 'moves';
    const { agents, rules } = services();
    const [a, b] = [await newAgent(tenant), await newAgent(tenant)];
    const r = await rules.create(tenant, rule(a.id));
    await expect(agents.delete(tenant, a.id)).rejects.toMatchObject({ status: 409, message: expect.stringContaining(r.id) });
    await rules.update(tenant, r.id, { agentId: b.id });
    await agents.delete(tenant, a.id);
    await expect(rules.update(tenant, r.id, { agentId: a.id })).rejects.toMatchObject({ status: 400, errors: [{ field: 'agentId' }] });
    await rules.delete(tenant, r.id);
    // A create refused after it referenced its agent (a number held by another rule) gives the reference back.
    const held = await rules.create(tenant, createRuleSchema.parse({ name: 'in', type: 'inbound', phoneNumbers: ['+14155550100'], room: { type: 'static', id: 'r' } }));
    await expect(rules.create(tenant, createRuleSchema.parse({ name: 'in2', type: 'inbound', agentId: b.id, phoneNumbers: ['+14155550100'], room: { type: 'static', id: 'r' } }))).rejects.toMatchObject({ status: 409 });
    await agents.delete(tenant, b.id);
    await rules.delete(tenant, held.id);
  });

  it(`${name}: a reference left by a write that died holds the agent until it settles; the agent's own PATCH keeps it`, async () => {
    const tenant = 'leftover';
    const agent = await newAgent(tenant);
    // A rule write that referenced the agent and died before writing its rule.
    expect(await services().agentStore.reference(tenant, agent.id)).toBe(true);
    await services().agents.update(tenant, agent.id, { name: 'renamed' });
    await expect(services(60_000).agents.delete(tenant, agent.id)).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/being written/) });
    await services(0).agents.delete(tenant, agent.id);
    await expect(services().agents.get(tenant, agent.id)).rejects.toMatchObject({ status: 404 });
    // No agent: nothing to reference, and no item made by trying.
    expect(await services().agentStore.reference(tenant, agent.id)).toBe(false);
    expect(await services().agentStore.get(tenant, agent.id)).toBeNull();
  });
});
