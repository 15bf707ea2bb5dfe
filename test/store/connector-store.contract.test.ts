import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import type { Connector } from '../../core/connectors/model';
import { DynamoCallStore } from '../../core/calls/store';
import { DynamoConnectorStore, holdsWebhookKey } from '../../core/connectors/store';
import { ConflictError } from '../../core/errors';
import { deliveryIdFor, newConnectorId, newRuleId, newWebhookId, newWebhookKey } from '../../core/ids';
import type { RoutingRule } from '../../core/routing/model';
import { createRuleSchema } from '../../core/routing/schema';
import { DynamoRoutingRuleStore } from '../../core/routing/store';
import type { Webhook } from '../../core/webhooks/model';
import { DeliveryStore, DynamoWebhookStore } from '../../core/webhooks/store';
import { capacityMeter } from '../support/capacity';
import { storeBackends, useStoreTable } from '../support/store-backends';

function connector(tenant: string, fields: Partial<Connector> = {}): Connector {
  const now = new Date().toISOString();
  return {
    id: newConnectorId(),
    tenant,
    provider: 'plivo',
    name: null,
    defaultRoomId: null,
    defaultRuleId: null,
    region: null,
    webhookKey: newWebhookKey(),
    plivoAuthId: null,
    plivoAuthToken: null,
    createdAt: now,
    updatedAt: now,
    ...fields,
  };
}

/**
 * The ConnectorStore contract, run against every DynamoDB this project meets: dynalite (the
 * embedded default) and Amazon's DynamoDB Local (closest to the real service) when Java is present.
 */
describe.each(storeBackends)('ConnectorStore on %s', (_name, start) => {
  const db = useStoreTable(start, 'contract');
  let store: DynamoConnectorStore;
  let measured: ReturnType<typeof capacityMeter>;

  beforeAll(() => {
    store = new DynamoConnectorStore(db.dynamo, 'contract');
    measured = capacityMeter(db.dynamo);
  });

  /**
   * A webhook key's connector as the Answer URL resolves it: where the key index points, that connector read with its
   * tenant's rules, trusted only while it still holds the key.
   */
  async function resolve(key: string): Promise<Connector | null> {
    const owner = await store.webhookKeyOwner(key);
    const found = owner && (await new DynamoRoutingRuleStore(db.dynamo, 'contract').withConnector(owner.tenant, owner.connectorId)).connector;
    return found && holdsWebhookKey(found, key) ? found : null;
  }

  it('round-trips every field, nulls and binary included', async () => {
    const full = connector('t1', {
      name: 'n',
      defaultRoomId: 'room',
      defaultRuleId: 'rr_0123456789abcdef',
      region: 'us002',
      plivoAuthId: 'MA0123456789ABCDEFGH',
      plivoAuthToken: new Uint8Array([0, 1, 2, 255]),
    });
    await store.create(full);
    expect(await store.get('t1', full.id)).toEqual({ ...full, plivoAuthToken: expect.any(Uint8Array) });
    expect(Buffer.from((await store.get('t1', full.id))!.plivoAuthToken!)).toEqual(Buffer.from([0, 1, 2, 255]));
    const bare = connector('t1');
    await store.create(bare);
    expect(await store.get('t1', bare.id)).toEqual(bare);
  });

  it('scopes reads and writes to the tenant', async () => {
    const c = connector('owner');
    await store.create(c);
    expect(await store.get('intruder', c.id)).toBeNull();
    expect(await store.update('intruder', c.id, { name: 'x' }, c.updatedAt)).toBeNull();
    expect(await store.rotateKey('intruder', c.id, newWebhookKey(), c.updatedAt)).toBeNull();
    expect(await store.delete('intruder', c.id)).toBeNull();
    expect(await store.get('owner', c.id)).toEqual(c);
  });

  it('refuses to create the same id twice', async () => {
    const c = connector('t2');
    await store.create(c);
    await expect(store.create({ ...c, webhookKey: newWebhookKey() })).rejects.toThrow();
  });

  it('updates, clears and reports missing connectors', async () => {
    const c = connector('t3', { name: 'a', region: 'us002' });
    await store.create(c);
    const updated = await store.update('t3', c.id, { name: 'b', region: null, defaultRoomId: 'r', plivoAuthId: 'SA0123456789ABCDEFGH' }, '2030-01-01T00:00:00.000Z');
    expect(updated).toEqual({ ...c, name: 'b', region: null, defaultRoomId: 'r', plivoAuthId: 'SA0123456789ABCDEFGH', updatedAt: '2030-01-01T00:00:00.000Z' });
    expect(await store.update('t3', c.id, { plivoAuthId: null }, '2030-01-01T00:00:01.000Z')).toMatchObject({ plivoAuthId: null });
    expect(await store.update('t3', newConnectorId(), { name: 'x' }, c.updatedAt)).toBeNull();
  });

  it('lists newest first across pages with no empty last page', async () => {
    const base = Date.now();
    const made = [0, 1, 2, 3, 4].map((i) => connector('t4', { id: newConnectorId(base + i * 1000) }));
    for (const c of made) await store.create(c);
    const first = await store.list('t4', 2);
    expect(first.items.map((c) => c.id)).toEqual([made[4]!.id, made[3]!.id]);
    const second = await store.list('t4', 2, first.lastId!);
    expect(second.items.map((c) => c.id)).toEqual([made[2]!.id, made[1]!.id]);
    const last = await store.list('t4', 2, second.lastId!);
    expect(last.items.map((c) => c.id)).toEqual([made[0]!.id]);
    expect(last.lastId).toBeNull();
    const exact = await store.list('t4', 5);
    expect(exact.items).toHaveLength(5);
    expect(exact.lastId).toBeNull();
  });

  it('resolves a webhook key to its connector until the connector is deleted', async () => {
    const c = connector('t5');
    await store.create(c);
    expect(await resolve(c.webhookKey)).toEqual(c);
    expect(await resolve(newWebhookKey())).toBeNull();
    expect(await store.delete('t5', c.id)).toEqual(c);
    expect(await resolve(c.webhookKey)).toBeNull();
    expect(await store.delete('t5', c.id)).toBeNull();
  });

  it('rotates: the new key resolves, the old one never again', async () => {
    const c = connector('t6');
    await store.create(c);
    const newKey = newWebhookKey();
    const rotated = await store.rotateKey('t6', c.id, newKey, '2030-01-01T00:00:00.000Z');
    expect(rotated).toEqual({ ...c, webhookKey: newKey, updatedAt: '2030-01-01T00:00:00.000Z' });
    expect(await resolve(c.webhookKey)).toBeNull();
    expect(await resolve(newKey)).toEqual(rotated);
  });

  it('stops resolving the old key the moment rotation returns, under racing lookups', async () => {
    for (let round = 0; round < 5; round++) {
      const c = connector('t7');
      await store.create(c);
      let rotatedAt = Infinity;
      let stop = false;
      const violations: string[] = [];
      // Lookups race the rotation. One that starts after rotateKey returned must miss; none may
      // ever see a connector holding a key other than the one asked for.
      const racer = async () => {
        while (!stop) {
          const startedAt = performance.now();
          const found = await resolve(c.webhookKey);
          if (found && found.webhookKey !== c.webhookKey) violations.push('resolved to another key');
          if (found && startedAt > rotatedAt) violations.push(`old key resolved ${(startedAt - rotatedAt).toFixed(2)} ms after rotation`);
        }
      };
      const racers = [racer(), racer(), racer()];
      await new Promise((r) => setTimeout(r, 5));
      const rotated = await store.rotateKey('t7', c.id, newWebhookKey(), new Date().toISOString());
      rotatedAt = performance.now();
      await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await Promise.all(racers);
      expect(violations).toEqual([]);
      expect(await resolve(rotated!.webhookKey)).toEqual(rotated);
    }
  });

  it('ignores a key index entry that an interrupted rotation left behind', async () => {
    const c = connector('t9');
    await store.create(c);
    const rotated = await store.rotateKey('t9', c.id, newWebhookKey(), c.updatedAt);
    // As if the process died before deleting the old key's index entry.
    const digest = createHash('sha256').update(c.webhookKey).digest('hex');
    await db.dynamo.send(
      new PutItemCommand({
        TableName: 'contract',
        Item: { pk: { S: `WHK#${digest}` }, sk: { S: 'WHK' }, tenant: { S: 't9' }, connectorId: { S: c.id } },
      }),
    );
    expect(await resolve(c.webhookKey)).toBeNull();
    expect(await resolve(rotated!.webhookKey)).toEqual(rotated);
  });

  it('leaves exactly one live key after concurrent rotations; a loser gets a conflict', async () => {
    const c = connector('t8');
    await store.create(c);
    const keys = [newWebhookKey(), newWebhookKey()];
    const results = await Promise.allSettled(keys.map((key) => store.rotateKey('t8', c.id, key, c.updatedAt)));
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    const live = await Promise.all([c.webhookKey, ...keys].map((key) => resolve(key)));
    expect(live.filter(Boolean)).toHaveLength(1);
    expect(live.find(Boolean)).toEqual(await store.get('t8', c.id));
  });

  it("reads a connector with its tenant's rules and webhooks, whatever else the tenant holds, at a cost its other connectors do not change", async () => {
    const rules = new DynamoRoutingRuleStore(db.dynamo, 'contract');
    const webhookStore = new DynamoWebhookStore(db.dynamo, 'contract');
    const calls = new DynamoCallStore(db.dynamo, 'contract');
    const now = new Date().toISOString();
    const rule = (tenant: string, n: number): RoutingRule => {
      const body = createRuleSchema.parse({ name: `rule ${n}`, type: 'inbound', phoneNumbers: [`+1415555000${n}`], room: { type: 'static', id: `r${n}` } });
      return { ...body, room: body.room ?? null, id: newRuleId(), tenant, createdAt: now, updatedAt: now };
    };
    // Connectors on both sides of the one asked for, a call record, and another tenant's rule.
    const [first, middle, last] = [0, 1, 2].map((n) => connector('t9', { id: newConnectorId(Date.now() + n * 1000) })) as [Connector, Connector, Connector];
    for (const c of [first, middle, last]) await store.create(c);
    const own = [rule('t9', 1), rule('t9', 2), rule('t9', 3)];
    for (const r of [...own, rule('t10', 4)]) await rules.create(r);
    await calls.create(
      { id: 'call_contract', tenant: 't9', callUuid: 'u', provider: 'plivo', connectorId: middle.id, ruleId: null, roomId: 'r', region: 'us002', from: '', to: '', type: 'inbound', hidePhoneNumber: false, status: 'incoming', timelog: [], startedAt: now, hangupCause: null, answeredAt: null, endedAt: null, durationSeconds: null, hangupReason: null, agentStatus: null, stream: null, claimRef: null, metadata: {} },
      1,
    );
    // Webhooks, one of them with a delivery record (which sorts just after the webhooks).
    const webhook = (tenant: string): Webhook => ({ id: newWebhookId(), tenant, url: 'https://hooks.example.com/x', events: ['call-started'], sealedSecret: null, createdAt: now, updatedAt: now });
    const hooks = [webhook('t9'), webhook('t9')];
    for (const w of [...hooks, webhook('t10')]) await webhookStore.create(w);
    await new DeliveryStore(db.dynamo, 'contract', { retentionDays: 1, redriveAfterSeconds: 60 }).createAll([
      { id: deliveryIdFor('call_contract', 'call-started', (hooks[0] as Webhook).id, Date.now()), tenant: 't9', webhookId: (hooks[0] as Webhook).id, event: 'call-started', callId: 'call_contract', status: 'pending', body: '{}', attempts: [], cycleAttempts: 0, createdAt: now, updatedAt: now, nextAttemptAt: null },
    ]);
    const byId = <T extends { id: string }>(list: T[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
    for (const c of [first, middle, last]) {
      const view = await rules.withConnector('t9', c.id);
      expect(view.connector).toEqual(c);
      expect(byId(view.rules)).toEqual(byId(own));
      expect(byId(view.webhooks)).toEqual(byId(hooks));
    }
    // Many connectors newer than `first`: reading it costs what reading the newest does.
    const newer = Array.from({ length: 40 }, (_, n) => connector('t9', { id: newConnectorId(Date.now() + 10_000 + n * 1000) }));
    for (const c of newer) await store.create(c);
    const cost = async (id: string) => (await measured(() => rules.withConnector('t9', id))).rcu;
    expect(await cost(first.id)).toBe(await cost((newer[39] as Connector).id));
    const missing = await rules.withConnector('t9', newConnectorId());
    expect(missing.connector).toBeNull();
    expect(byId(missing.rules)).toEqual(byId(own));
    expect(await rules.withConnector('t11', first.id)).toEqual({ connector: null, rules: [], webhooks: [] });
  });
});
