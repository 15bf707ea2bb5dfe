import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../../core/aws';
import { COMMAND_TTL_MS, MediaCommandStore, newCommandId, type SwitchRoomCommand } from '../../core/media-commands';
import { ensureControlTable } from '../../local/aws';
import { storeBackends, type Backend } from '../support/store-backends';

/** The control plane's commands to media servers (core/media-commands.ts): each taken once, by its server alone. */
describe.each(storeBackends)('media commands on %s', (name, start) => {
  let backend: Backend;
  let dynamo: DynamoDBClient;
  const command = (callId: string): SwitchRoomCommand => {
    const at = Date.now();
    return { type: 'switch-room', id: newCommandId(at), tenant: 't1', callId, fromRoomId: 'a', roomId: 'b', at, expiresAtMs: at + COMMAND_TTL_MS };
  };

  /** The call each switch-room command names. */
  const callIds = (commands: readonly { type: string; callId?: string }[]) => commands.map((c) => c.callId);

  beforeAll(async () => {
    backend = await start();
    dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: backend.endpoint });
    await ensureControlTable(dynamo, 'commands');
  }, 60_000);
  afterAll(async () => {
    dynamo.destroy();
    await backend.stop();
  });

  it(`${name}: a server takes its own commands, oldest first, each once however many polls race`, async () => {
    const store = new MediaCommandStore(dynamo, 'commands');
    const first = command('call_1');
    const second = { ...command('call_2'), id: newCommandId(first.at + 1) };
    await store.send('media-1', second);
    await store.send('media-1', first);
    await store.send('media-2', command('call_3'));
    expect(callIds(await store.take('media-1', () => undefined))).toEqual(['call_1', 'call_2']);
    expect(await store.take('media-1', () => undefined)).toEqual([]);
    await store.send('media-1', command('call_4'));
    const polls = await Promise.all([store.take('media-1', () => undefined), store.take('media-1', () => undefined)]);
    expect(callIds(polls.flat())).toEqual(['call_4']);
    expect(callIds(await store.take('media-2', () => undefined))).toEqual(['call_3']);
    await expect(store.send('media-1', first)).resolves.toBeUndefined();
    await expect(store.send('media-1', first)).rejects.toThrow();
  });

  it(`${name}: a close-room command goes to its server as written`, async () => {
    const store = new MediaCommandStore(dynamo, 'commands');
    const at = Date.now();
    const close = { type: 'close-room', id: newCommandId(at), tenant: 't1', roomId: 'sales', at, expiresAtMs: at + COMMAND_TTL_MS } as const;
    await store.send('media-4', close);
    expect(await store.take('media-4', () => undefined)).toEqual([close]);
  });

  it(`${name}: a malformed command is taken and dropped, never run`, async () => {
    const store = new MediaCommandStore(dynamo, 'commands');
    await dynamo.send(new PutItemCommand({ TableName: 'commands', Item: { pk: { S: 'CMD#media-3' }, sk: { S: 'cmd_bad' }, command: { S: '{"type":"rm -rf"}' } } }));
    const bad: string[] = [];
    expect(await store.take('media-3', (id) => bad.push(id))).toEqual([]);
    expect(bad).toEqual(['cmd_bad']);
    expect(await store.take('media-3', () => undefined)).toEqual([]);
  });
});
