import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { callIdFor, type CallRecord, type CallRoomEntry } from '../../core/calls/model';
import { callEnd, DynamoCallStore, SWITCH_ROOM_TIMEOUT_MS } from '../../core/calls/store';
import { overdue } from '../../core/dynamo';
import { COMMAND_TTL_MS, MediaCommandStore, newCommandId, type SwitchRoomCommand } from '../../core/media-commands';
import { RoomSwitcher } from '../../ingest-container/src/calls/switch-room';
import { waitFor } from '../support/local-process';
import { memoryLog } from '../support/stack';
import { storeBackends, useStoreTable } from '../support/store-backends';

/**
 * The control plane's commands to media servers (core/media-commands.ts): each taken once, by its server alone; and the
 * switch of rooms a command carries, whose outcome the call record takes once.
 */
describe.each(storeBackends)('media commands on %s', (name, start) => {
  const db = useStoreTable(start, 'commands');
  const command = (callId: string): SwitchRoomCommand => {
    const at = Date.now();
    return { type: 'switch-room', id: newCommandId(at), tenant: 't1', callId, fromRoomId: 'a', roomId: 'b', at, expiresAtMs: at + COMMAND_TTL_MS };
  };

  /** The call each switch-room command names. */
  const callIds = (commands: readonly { type: string; callId?: string }[]) => commands.map((c) => c.callId);

  it(`${name}: a server takes its own commands, oldest first, each once however many polls race`, async () => {
    const store = new MediaCommandStore(db.dynamo, 'commands');
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
    const store = new MediaCommandStore(db.dynamo, 'commands');
    const at = Date.now();
    const close = { type: 'close-room', id: newCommandId(at), tenant: 't1', roomId: 'sales', at, expiresAtMs: at + COMMAND_TTL_MS } as const;
    await store.send('media-4', close);
    expect(await store.take('media-4', () => undefined)).toEqual([close]);
  });

  it(`${name}: a malformed command is taken and dropped, never run`, async () => {
    const store = new MediaCommandStore(db.dynamo, 'commands');
    await db.dynamo.send(new PutItemCommand({ TableName: 'commands', Item: { pk: { S: 'CMD#media-3' }, sk: { S: 'cmd_bad' }, command: { S: '{"type":"rm -rf"}' } } }));
    const bad: string[] = [];
    expect(await store.take('media-3', (id) => bad.push(id))).toEqual([]);
    expect(bad).toEqual(['cmd_bad']);
    expect(await store.take('media-3', () => undefined)).toEqual([]);
  });

  it(`${name}: a command whose handling throws is logged with its id and tenant, and the rest of its batch still runs`, async () => {
    const store = new MediaCommandStore(db.dynamo, 'commands');
    const at = Date.now();
    const [failing, next, last] = [0, 1, 2].map((i) => newCommandId(at + i)) as [string, string, string];
    await store.send('media-5', { type: 'close-room', id: failing, tenant: 't1', roomId: 'boom', at, expiresAtMs: at + COMMAND_TTL_MS });
    await store.send('media-5', { type: 'end-session', id: next, tenant: 't2', roomId: 'sales', at, expiresAtMs: at + COMMAND_TTL_MS });
    await store.send('media-5', { type: 'remove-participant', id: last, tenant: 't2', roomId: 'sales', participantId: 'web_1', at, expiresAtMs: at + COMMAND_TTL_MS });
    const ran: string[] = [];
    const log = memoryLog();
    // Only the room commands run here: the switcher's call and seating parts are never reached.
    const unused = {} as never;
    const switcher = new RoomSwitcher({
      serverId: 'media-5',
      commands: store,
      seating: unused,
      relayAuth: unused,
      rooms: unused,
      calls: unused,
      lifecycle: unused,
      closeRoom: (tenant, roomId, why) => {
        if (roomId === 'boom') throw new Error('room close failed');
        ran.push(`${why} ${tenant}/${roomId}`);
      },
      removeParticipant: (tenant, roomId, participantId) => ran.push(`removed ${tenant}/${roomId}/${participantId}`) > 0,
      dispatchAgent: () => undefined,
      recording: () => undefined,
      log: log.logger,
      pollMs: 10,
    });
    switcher.start();
    try {
      await waitFor(() => (ran.length === 2 ? true : undefined));
    } finally {
      await switcher.stop();
    }
    expect(ran).toEqual(['session-ended t2/sales', 'removed t2/sales/web_1']);
    const failed = log.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'media command failed: it is dropped');
    expect(failed).toEqual([expect.objectContaining({ commandId: failing, tenant: 't1', roomId: 'boom', type: 'close-room' })]);
    expect(await store.take('media-5', () => undefined)).toEqual([]);
  });

  it(`${name}: a switch of rooms gets one outcome, its completion or its timeout, whichever lands first; the call is due under its server again`, async () => {
    const calls = new DynamoCallStore(db.dynamo, 'commands');
    const t0 = Date.now();
    const startedAt = new Date(t0).toISOString();
    const id = callIdFor('switch-once');
    const record: CallRecord = {
      id, tenant: 't1', type: 'inbound', callUuid: 'switch-once', provider: 'plivo', connectorId: 'cn_1m7zrqp6tevwckb1', ruleId: null, roomId: 'a', region: 'us002',
      from: '+14155550100', to: '+14155550111', hidePhoneNumber: false, status: 'incoming', timelog: [{ status: 'incoming', at: startedAt }], startedAt,
      answeredAt: null, endedAt: null, durationSeconds: null, hangupReason: null, hangupCause: null, agentStatus: null, stream: null, claimRef: 'ref', metadata: {},
    };
    await calls.create(record, 1);
    await calls.answer('t1', id, startedAt, 'media-1');
    const due = async (kind: 'switch' | 'server#media-1', atMs: number) => (await overdue(db.dynamo, 'commands', kind, new Date(atMs), 10)).keys.some((key) => key.sk?.S === `CALL#${id}`);
    const move = (event: CallRoomEntry['event'], from: string, to: string, switchId: string, reason?: CallRoomEntry['reason']) =>
      calls.switchRoom('t1', id, { event, from, to, at: new Date().toISOString(), ...(reason && { reason }) }, switchId);
    const far = t0 + 3_600_000;

    // Asked: pending, due as a switch at the timeout instead of under its server; a second switch waits for its outcome.
    expect(await move('switch-room-initiated', 'a', 'b', 'cmd_1')).toMatchObject({ pendingSwitch: 'cmd_1', roomId: 'a' });
    expect([await due('server#media-1', far), await due('switch', t0 + SWITCH_ROOM_TIMEOUT_MS - 1000), await due('switch', t0 + SWITCH_ROOM_TIMEOUT_MS + 1000)]).toEqual([false, false, true]);
    expect(await move('switch-room-initiated', 'a', 'c', 'cmd_2')).toBeNull();
    // Nor does a transfer start meanwhile: the switch's outcome needs the call in its room.
    expect(await calls.transferStep('t1', id, 'transfer-initiated', new Date().toISOString(), false)).toBeNull();
    // Completed: the timeout that comes after it (the sweeper's) does not land, nor does a second completion.
    const completed = await move('switch-room-completed', 'a', 'b', 'cmd_1');
    expect(completed).toMatchObject({ roomId: 'b' });
    expect(completed?.pendingSwitch).toBeUndefined();
    expect(await move('switch-room-failed', 'a', 'b', 'cmd_1', 'timeout')).toBeNull();
    expect(await move('switch-room-completed', 'a', 'b', 'cmd_1')).toBeNull();
    expect([await due('server#media-1', far), await due('switch', far)]).toEqual([true, false]);

    // Timed out: the completion that comes after it does not land, and the call stays where it was.
    expect(await move('switch-room-initiated', 'b', 'c', 'cmd_2')).not.toBeNull();
    expect(await move('switch-room-failed', 'b', 'c', 'cmd_2', 'timeout')).toMatchObject({ roomId: 'b' });
    expect(await move('switch-room-completed', 'b', 'c', 'cmd_2')).toBeNull();
    expect([await due('server#media-1', far), await due('switch', far)]).toEqual([true, false]);

    // Ended while pending: the outcome still lands (the media server's `not-live`), and the ended call is due nowhere.
    expect(await move('switch-room-initiated', 'b', 'd', 'cmd_3')).not.toBeNull();
    expect(await calls.streamEnded('t1', id, callEnd('caller-hangup', t0), 1)).toMatchObject({ status: 'ended' });
    expect(await move('switch-room-failed', 'b', 'd', 'cmd_3', 'not-live')).toMatchObject({ status: 'ended' });
    expect([await due('server#media-1', far), await due('switch', far)]).toEqual([false, false]);

    const moves = (await calls.get('t1', id))?.timelog.flatMap((entry) => ('from' in entry ? [`${entry.event}:${entry.to}${entry.reason ? `:${entry.reason}` : ''}`] : []));
    expect(moves).toEqual([
      'switch-room-initiated:b',
      'switch-room-completed:b',
      'switch-room-initiated:c',
      'switch-room-failed:c:timeout',
      'switch-room-initiated:d',
      'switch-room-failed:d:not-live',
    ]);
  });
});
