import { DISPATCH_TIMEOUT_MS, DynamoDispatchJobStore } from '../../core/agents/dispatch';
import { dynamoClient } from '../../core/aws';
import { newDispatchJobId } from '../../core/ids';
import { COMMAND_TTL_MS, MediaCommandStore, newCommandId } from '../../core/media-commands';
import { LOCAL_TABLE_NAME } from '../../local/aws';
import { tone, toneLevel } from '../../tools/audio';
import { RoomPeer, type RoomMessage } from '../../tools/room-peer';
import { agentServerPerFile, closedPort } from '../support/agents';
import { localProcessPerFile, waitFor } from '../support/local-process';
import { mediaServers } from '../support/media-servers';

/**
 * `POST /v2/agent/dispatch` through `npm start` with two media servers: a real WebSocket agent server on 127.0.0.1
 * (`npm start` lets agents be at loopback addresses) is dialled into a room, live on either server or on none yet, by
 * the media server holding it; room peers see it join and hear it, and the job says `dispatched`. An agent that cannot
 * be reached ends the job `failed`; a dispatch that reaches the wrong server is passed on; a late agent is hung up.
 */
const local = localProcessPerFile('e2e-agent-dispatch-', { MEDIA_SERVERS: '2' });
const { api, server } = mediaServers(() => local.stack);

const { dialled, port: agentPort } = agentServerPerFile();
const join = (i: number, roomId: string) => RoomPeer.join(server(i).url, roomId, { token: local.stack.info.token });

async function registerAgent(url: string): Promise<string> {
  const { status, body } = await api('POST', '/v2/agents', { name: 'dispatched bot', url, sampleRate: 16000, metadata: { persona: 'support', tier: 1 } });
  expect(status).toBe(201);
  return body.id as string;
}

/** The job once it is no longer pending. */
const outcome = (jobId: string, timeoutMs = 10_000) =>
  waitFor(async () => {
    const { data } = await api('GET', `/v2/agent/dispatch/${jobId}`);
    return data.status === 'pending' ? undefined : data;
  }, timeoutMs);

/** The agent the media servers dialled for `jobId`, once its `joined` came. */
const agentFor = (jobId: string) => waitFor(() => dialled.find((peer) => (peer.messages[0]?.dispatch as { jobId?: string } | undefined)?.jobId === jobId));

const agentJoined = (peer: RoomPeer, participantId: string) => peer.next('participant-joined', (m: RoomMessage) => (m.participant as { id: string }).id === participantId);

it("dials the agent into a room live on the other server: joined names the job and carries the metadata, no call; peers see it join and hear it; the job says dispatched", async () => {
  const agentId = await registerAgent(`ws://127.0.0.1:${agentPort()}/agent?key=secret`);
  // The room is placed on server 1 (its first member joined there); a member on server 0 is relayed to it.
  const here = await join(1, 'dispatch-live');
  const relayed = await join(0, 'dispatch-live');
  const res = await api('POST', '/v2/agent/dispatch', { agentId, meetingId: 'dispatch-live', metadata: { tier: 2, queue: 'billing' } });
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { data: { success: true, jobId: expect.stringMatching(/^job_/), status: 'pending', roomId: 'dispatch-live', agentId } } });
  const { jobId } = res.data as { jobId: string };

  const agent = await agentFor(jobId);
  const joined = agent.messages[0] as RoomMessage;
  expect(joined).toEqual({
    type: 'joined',
    participantId: expect.stringMatching(/^ag_/),
    roomId: 'dispatch-live',
    sampleRate: 16000,
    participants: expect.arrayContaining([expect.objectContaining({ kind: 'web' })]),
    dispatch: { jobId },
    // The dispatch's metadata over the agent's own.
    metadata: { persona: 'support', tier: 2, queue: 'billing' },
  });
  expect(joined).not.toHaveProperty('call');
  const participantId = joined.participantId as string;
  expect(await outcome(jobId)).toEqual({ jobId, status: 'dispatched', participantId, roomId: 'dispatch-live', agentId, metadata: { tier: 2, queue: 'billing' }, createdAt: expect.any(String), updatedAt: expect.any(String) });
  for (const peer of [here, relayed]) expect((await agentJoined(peer, participantId)).participant).toMatchObject({ id: participantId, kind: 'agent' });
  // It was dialled by the room's server, which the API found from the room's placement.
  expect(local.stack.output()).toMatch(new RegExp(`"msg":"agent dispatch sent to the room's media server".*"jobId":"${jobId}"|"jobId":"${jobId}".*"msg":"agent dispatch sent to the room's media server"`));

  await agent.play(tone(900, 1, 8000, 16000));
  await waitFor(() => (toneLevel(relayed.receivedPcm(10), 900, 16000) > 4000 ? true : undefined), 3000);
  expect(toneLevel(here.receivedPcm(10), 900, 16000)).toBeGreaterThan(4000);

  // The agent leaving is a participant leaving.
  await agent.close();
  await here.next('participant-left', (m) => m.participantId === participantId);
  await Promise.all([here.close(), relayed.close()]);
}, 40_000);

it('places a room live nowhere on a serving media server: a peer joining later finds the agent there and hears it', async () => {
  const agentId = await registerAgent(`ws://127.0.0.1:${agentPort()}/cold`);
  const res = await api('POST', '/v2/agent/dispatch', { agentId, roomId: 'dispatch-cold' });
  expect(res.status).toBe(200);
  const { jobId } = res.data as { jobId: string };
  const agent = await agentFor(jobId);
  expect(agent.messages[0]).toMatchObject({ type: 'joined', roomId: 'dispatch-cold', participants: [], dispatch: { jobId }, metadata: { persona: 'support', tier: 1 } });
  const { participantId } = (await outcome(jobId)) as { participantId: string };
  expect(participantId).toBe(agent.messages[0]?.participantId);
  expect(local.stack.output()).toMatch(/"msg":"agent dispatch sent to a media server, to place the room"/);

  // Whichever server placed it, a peer on either reaches it.
  for (const i of [0, 1]) {
    const peer = await join(i, 'dispatch-cold');
    // (The first peer, relayed, may not have left the room's server yet.)
    expect(peer.messages[0]).toMatchObject({ participants: expect.arrayContaining([expect.objectContaining({ id: participantId, kind: 'agent' })]) });
    const playing = agent.play(tone(700, 0.8, 8000, 16000));
    await waitFor(() => (toneLevel(peer.receivedPcm(5), 700, 16000) > 4000 ? true : undefined), 3000);
    await playing;
    await peer.close();
  }
  // The room's session records it as a participant like any: an agent, with no call.
  const inSession = await waitFor(async () => {
    const [session] = (await api('GET', '/v2/sessions?customRoomId=dispatch-cold')).body.data as { id: string }[];
    const { participants } = session ? ((await api('GET', `/v2/sessions/${session.id}/participants?perPage=100`)).body.data as { participants: { participantId: string }[] }) : { participants: [] };
    return participants.find((p) => p.participantId === participantId);
  });
  expect(inSession).toMatchObject({ participantId, kind: 'agent', callId: null, timelog: [{ start: expect.any(String), end: null }] });
  await agent.close();
}, 40_000);

it('fails the job, unreachable, when the agent cannot be connected; the room goes on without it', async () => {
  const agentId = await registerAgent(`ws://127.0.0.1:${await closedPort()}/gone`);
  const peer = await join(0, 'dispatch-down');
  const res = await api('POST', '/v2/agent/dispatch', { agentId, roomId: 'dispatch-down' });
  const { jobId } = res.data as { jobId: string };
  expect(await outcome(jobId)).toMatchObject({ jobId, status: 'failed', reason: 'unreachable', agentId, roomId: 'dispatch-down' });
  expect(local.stack.output()).toMatch(new RegExp(`"msg":"agent dispatch failed".*"jobId":"${jobId}"|"jobId":"${jobId}".*"msg":"agent dispatch failed"`));
  // Nobody joined the room: its member saw no one.
  expect(peer.messages.filter((m) => m.type === 'participant-joined')).toEqual([]);
  expect(peer.closeCode).toBeNull();
  await peer.close();
}, 30_000);

it('closes a dispatched agent with 4410 when its room is deactivated, and refuses dispatches into it after', async () => {
  const agentId = await registerAgent(`ws://127.0.0.1:${agentPort()}/deactivated`);
  const { jobId } = (await api('POST', '/v2/agent/dispatch', { agentId, roomId: 'dispatch-deactivated' })).data as { jobId: string };
  const agent = await agentFor(jobId);
  expect(await outcome(jobId)).toMatchObject({ status: 'dispatched' });
  expect((await api('POST', '/v2/rooms/deactivate', { roomId: 'dispatch-deactivated' })).status).toBe(200);
  await agent.until(() => agent.closeCode ?? undefined, 'the agent socket to close');
  expect(agent.closeCode).toBe(4410);
  const again = await api('POST', '/v2/agent/dispatch', { agentId, roomId: 'dispatch-deactivated' });
  expect({ status: again.status, code: again.body.code }).toEqual({ status: 400, code: 'bad_request' });
}, 30_000);

it("reaches the room kept under its customRoomId when dispatched by its roomId; the job keeps the name it was asked with", async () => {
  const room = (await api('POST', '/v2/rooms', { customRoomId: 'dispatch-named' })).body as { roomId: string };
  const peer = await join(1, 'dispatch-named');
  const agentId = await registerAgent(`ws://127.0.0.1:${agentPort()}/named`);
  const { jobId, roomId } = (await api('POST', '/v2/agent/dispatch', { agentId, roomId: room.roomId })).data as { jobId: string; roomId: string };
  expect(roomId).toBe(room.roomId);
  const agent = await agentFor(jobId);
  expect(agent.messages[0]).toMatchObject({ roomId: 'dispatch-named', participants: [expect.objectContaining({ kind: 'web' })] });
  const { participantId } = (await outcome(jobId)) as { participantId: string };
  expect((await agentJoined(peer, participantId)).participant).toMatchObject({ kind: 'agent' });
  await Promise.all([agent.close(), peer.close()]);
}, 30_000);

/**
 * What the API writes for a dispatch, written straight into the local table: the job (its deadline `deadlineMs`) and
 * its command, addressed to media server `i`, whatever holds the room; for what the API cannot be made to do on cue.
 */
async function jobAndCommand(i: number, agentId: string, url: string, roomId: string, deadlineMs: number): Promise<string> {
  const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: local.stack.info.aws.dynamodbEndpoint });
  const now = Date.now();
  const jobId = newDispatchJobId(now);
  const at = new Date(now).toISOString();
  try {
    await new DynamoDispatchJobStore(dynamo, LOCAL_TABLE_NAME, 1).create({ id: jobId, tenant: 'demo', agentId, roomId, status: 'pending', deadlineMs, createdAt: at, updatedAt: at });
    const command = { type: 'dispatch-agent', id: newCommandId(now), tenant: 'demo', jobId, agentId, roomId, agent: { url, sampleRate: 16000 }, at: now, expiresAtMs: now + COMMAND_TTL_MS } as const;
    await new MediaCommandStore(dynamo, LOCAL_TABLE_NAME).send(server(i).serverId, command);
  } finally {
    dynamo.destroy();
  }
  return jobId;
}

it('a server that finds the room placed on the other passes the dispatch on to it, once, and the agent joins there', async () => {
  // What a server finds when the room was placed elsewhere after the API looked: the command on server 0, the room on 1.
  const peer = await join(1, 'dispatch-moved');
  const url = `ws://127.0.0.1:${agentPort()}/moved`;
  const jobId = await jobAndCommand(0, await registerAgent(url), url, 'dispatch-moved', Date.now() + DISPATCH_TIMEOUT_MS);
  const agent = await agentFor(jobId);
  const { participantId } = (await outcome(jobId)) as { participantId: string };
  expect((await agentJoined(peer, participantId)).participant).toMatchObject({ kind: 'agent' });
  expect(local.stack.output()).toMatch(new RegExp(`"msg":"agent dispatch passed on to the room's media server".*"jobId":"${jobId}"|"jobId":"${jobId}".*"msg":"agent dispatch passed on to the room's media server"`));
  await Promise.all([agent.close(), peer.close()]);
}, 30_000);

it('an agent that answers after its job timed out is hung up (1000): the job reads failed, timeout', async () => {
  const url = `ws://127.0.0.1:${agentPort()}/late`;
  const jobId = await jobAndCommand(0, await registerAgent(url), url, 'dispatch-late', Date.now() - 1);
  const agent = await agentFor(jobId);
  await agent.until(() => agent.closeCode ?? undefined, 'the late agent to be hung up');
  expect(agent.closeCode).toBe(1000);
  expect((await api('GET', `/v2/agent/dispatch/${jobId}`)).data).toMatchObject({ status: 'failed', reason: 'timeout' });
}, 30_000);
