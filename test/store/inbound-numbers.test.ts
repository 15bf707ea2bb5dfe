import { RoomService } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { DynamoAgentStore } from '../../core/agents/store';
import { DynamoConnectorStore } from '../../core/connectors/store';
import { createLogger } from '../../core/log';
import { createRuleSchema } from '../../core/routing/schema';
import { RoutingRuleService } from '../../core/routing/service';
import { DynamoRoutingRuleStore, InboundNumberStore } from '../../core/routing/store';
import { storeBackends, useStoreTable } from '../support/store-backends';

/**
 * The holds that keep each inbound number to one rule (core/routing/store.ts `InboundNumberStore`): what a write that
 * died halfway leaves behind is taken over once settled, and only then.
 */
describe.each(storeBackends)('inbound number holds on %s', (name, start) => {
  const db = useStoreTable(start, 'numbers');
  const service = (settleMs: number) =>
    new RoutingRuleService({
      rules: new DynamoRoutingRuleStore(db.dynamo, 'numbers'),
      numbers: new InboundNumberStore(db.dynamo, 'numbers', settleMs),
      connectors: new DynamoConnectorStore(db.dynamo, 'numbers'),
      agents: new DynamoAgentStore(db.dynamo, 'numbers'),
      rooms: new RoomService({ rooms: new DynamoRoomStore(db.dynamo, 'numbers'), closer: { close: () => Promise.resolve() }, allowPrivateTargets: true, log: createLogger('error') }),
      log: createLogger('error'),
    });
  const rule = (phoneNumbers: string[]) => createRuleSchema.parse({ name: 'r', type: 'inbound', phoneNumbers, room: { type: 'static', id: 'r' } });

  it(`${name}: a hold left by a rule that never got written is taken over once settled, not before`, async () => {
    const numbers = new InboundNumberStore(db.dynamo, 'numbers');
    // A create that took its number and died before writing its rule.
    expect(await numbers.take('t1', '+14155550100', 'rr_0000000000000000')).toBe(true);
    await expect(service(60_000).create('t1', rule(['+14155550100']))).rejects.toMatchObject({ status: 409 });
    const created = await service(0).create('t1', rule(['+14155550100']));
    expect(await numbers.holder('t1', '+14155550100')).toMatchObject({ ruleId: created.id });
  });

  it(`${name}: a settled hold whose rule still holds the number stays; one whose rule dropped it is taken over`, async () => {
    const rules = service(0);
    const first = await rules.create('t2', rule(['+14155550101', '+14155550102']));
    await expect(rules.create('t2', rule(['+14155550101']))).rejects.toMatchObject({ status: 409 });
    // The rule dropped +14155550102 but died before giving it back: its hold is a leftover.
    const store = new DynamoRoutingRuleStore(db.dynamo, 'numbers');
    const current = await store.get('t2', first.id);
    expect(await store.replace({ ...current!, phoneNumbers: ['+14155550101'], updatedAt: new Date().toISOString() }, current!.updatedAt)).toBe(true);
    const second = await rules.create('t2', rule(['+14155550102']));
    expect(second.phoneNumbers).toEqual(['+14155550102']);
  });

  it(`${name}: a refused create gives back the numbers it took`, async () => {
    const rules = service(60_000);
    await rules.create('t3', rule(['+14155550103']));
    await expect(rules.create('t3', rule(['+14155550104', '+14155550103']))).rejects.toMatchObject({ status: 409 });
    expect(await new InboundNumberStore(db.dynamo, 'numbers').holder('t3', '+14155550104')).toBeNull();
  });
});
