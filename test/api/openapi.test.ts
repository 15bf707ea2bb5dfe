import { readFileSync } from 'node:fs';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import Ajv2020 from 'ajv/dist/2020';
import { dynamoClient, sqsClient } from '../../core/aws';
import { callIdFor } from '../../core/calls/model';
import { createLogger } from '../../core/log';
import { DynamoRoomStore } from '../../core/room-records/store';
import { RoomWebhookPublisher } from '../../core/room-records/webhooks';
import { DeliveryQueue } from '../../core/webhooks/queue';
import { DeliveryStore } from '../../core/webhooks/store';
import { LOCAL_TABLE_NAME, LOCAL_WEBHOOK_QUEUE } from '../../local/aws';
import addFormats from 'ajv-formats';
import { publicRoutes, routes } from '../../lambdas/api/app';
import { openApiKey } from '../../lambdas/api/openapi';
import { OPENAPI_PATH, openApiText } from '../../tools/openapi';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer } from '../../tools/room-peer';
import { answerFields, newCall, plivoRequest } from '../support/plivo';
import { waitFor } from '../support/local-process';
import { startTestStack, type TestStack } from '../support/stack';

interface Document {
  paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[]; responses: Record<string, unknown> }>>;
}

const committed = readFileSync(OPENAPI_PATH, 'utf8');
const document = JSON.parse(committed) as Document;
const routeKeys = [...routes.table(), ...publicRoutes.table()].map(({ method, pattern }) => openApiKey(method, pattern));
const documentedKeys = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
const operationOf = (key: string) => {
  const [method, path] = key.split(' ') as [string, string];
  return document.paths[path]?.[method.toLowerCase()];
};

describe('the OpenAPI document', () => {
  it('is committed as generated (npm run openapi)', () => {
    expect(committed).toBe(openApiText());
  });

  it("describes exactly the router's routes, each with its path parameters, a request body where it takes one, and its answers", () => {
    expect([...documentedKeys].sort()).toEqual([...routeKeys].sort());
    for (const key of routeKeys) {
      const op = operationOf(key);
      const pathParams = [...key.matchAll(/\{(\w+)\}/g)].map(([, name]) => name);
      expect(op?.parameters?.filter((p) => p.in === 'path').map((p) => p.name) ?? []).toEqual(pathParams);
      const success = Object.keys(op?.responses ?? {}).filter((status) => status.startsWith('2'));
      expect(success).toHaveLength(1);
      // 403: a request that went around the edge (`origin_refused`), public routes included.
      expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(key.startsWith('GET /v2/public/') ? ['403'] : ['401', '403', '429']));
    }
    // Every route that reads a query documents it.
    const withQueries = routeKeys.filter((key) => operationOf(key)?.parameters?.some((p) => p.in === 'query'));
    expect(withQueries.sort()).toEqual(
      [
        'GET /v2/agents',
        'GET /v2/rooms',
        'GET /v2/rooms/{id}/deliveries',
        'GET /v2/sessions',
        'GET /v2/sessions/{id}/participants',
        'GET /v2/sessions/{id}/participants/active',
        'GET /v2/recordings',
        'GET /v2/sip/call',
        'GET /v2/connectors',
        'GET /v2/sip/routing-rule',
        'GET /v2/sip/webhooks',
        'GET /v2/sip/webhooks/{id}/deliveries',
      ].sort(),
    );
    // Every route that parses a JSON body documents it.
    const withBodies = routeKeys.filter((key) => operationOf(key)?.requestBody);
    expect(withBodies.sort()).toEqual(
      [
        'POST /v2/connectors',
        'PATCH /v2/connectors/{id}',
        'POST /v2/sip/routing-rule',
        'PATCH /v2/sip/routing-rule/{id}',
        'PUT /v2/sip/routing-rule/{id}',
        'POST /v2/agents',
        'PATCH /v2/agents/{id}',
        'PUT /v2/agents/{id}',
        'POST /v2/agent/dispatch',
        'POST /v2/sip/webhooks',
        'PATCH /v2/sip/webhooks/{id}',
        'PUT /v2/sip/webhooks/{id}',
        'POST /v2/rooms',
        'POST /v2/rooms/deactivate',
        'POST /v2/rooms/{roomId}/tokens',
        'POST /v2/sessions/end',
        'POST /v2/sessions/participants/remove',
        'POST /v2/recordings/start',
        'POST /v2/recordings/end',
        'POST /v2/sip/call',
        'POST /v2/sip/call/end',
        'POST /v2/sip/call/transfer',
        'POST /v2/sip/call/switch-room',
      ].sort(),
    );
  });
});

describe('real responses of every route, against the document', () => {
  let t: TestStack;
  let token: string;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(document, 'openapi');
  const seen = new Set<string>();

  beforeAll(async () => {
    // One quick retry, then dead-lettered: a failed delivery to re-drive.
    t = await startTestStack({ WEBHOOK_RETRY_DELAYS: '0' });
    token = await t.token('demo');
  });
  afterAll(() => t.close());

  /** Calls the route and checks its answer against the document's schema for that status. */
  async function call(
    method: string,
    pattern: string,
    path: string,
    options: { body?: unknown; token?: string; status?: number; headers?: Record<string, string> } = {},
  ): Promise<Record<string, unknown>> {
    const res = await t.api(method, path, { token: options.token ?? token, ...(options.body !== undefined && { body: options.body }), ...(options.headers && { headers: options.headers }) });
    const key = openApiKey(method, pattern);
    const body = (await res.json()) as Record<string, unknown>;
    expect({ key, status: res.status, body }).toMatchObject({ status: options.status ?? res.status });
    const pointer = `${key.split(' ')[1]}`.replace(/~/g, '~0').replace(/\//g, '~1');
    const schemaRef = `openapi#/paths/${pointer}/${method.toLowerCase()}/responses/${res.status}/content/application~1json/schema`;
    const validate = ajv.compile({ $ref: schemaRef });
    expect({ key, status: res.status, valid: validate(body), errors: validate.errors ?? null }).toEqual({ key, status: res.status, valid: true, errors: null });
    seen.add(key);
    return body;
  }

  it('answers {message, code} with 401 without a token, 403 with a join-only one, and 415 for a body not JSON, on every route', async () => {
    const joinOnly = await t.token('demo', { permissions: ['allow_join'] });
    for (const { method, pattern } of routes.table()) {
      const path = pattern.replace(/:(\w+)/g, (_, name: string) => (name === 'roomId' ? 'doc-room' : `${name}-x`));
      await call(method, pattern, path, { token: '', status: 401 });
      await call(method, pattern, path, { token: joinOnly, status: 403 });
      if (operationOf(openApiKey(method, pattern))?.requestBody) {
        await call(method, pattern, path, { body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 });
      }
    }
    seen.clear();
  });

  it('validates each', async () => {
    const connector = (await call('POST', '/v2/connectors', '/v2/connectors', { body: { provider: 'plivo', name: 'doc' }, status: 201 })).data as { id: string };
    await call('GET', '/v2/connectors', '/v2/connectors?limit=2');
    await call('GET', '/v2/connectors/:id', `/v2/connectors/${connector.id}`);
    await call('GET', '/v2/connectors/:id', '/v2/connectors/cn_nope', { status: 404 });
    await call('PATCH', '/v2/connectors/:id', `/v2/connectors/${connector.id}`, { body: { name: 'renamed' } });
    await call('PATCH', '/v2/connectors/:id', `/v2/connectors/${connector.id}`, { body: { name: '' }, status: 400 });
    await call('POST', '/v2/connectors/:id/rotate-key', `/v2/connectors/${connector.id}/rotate-key`);
    await call('DELETE', '/v2/connectors/:id', `/v2/connectors/${connector.id}`);

    const agent = (await call('POST', '/v2/agents', '/v2/agents', { body: { name: 'bot', url: 'ws://localhost:9000/agent', metadata: { persona: 'doc' } }, status: 201 })) as { id: string };
    await call('POST', '/v2/agents', '/v2/agents', { body: { name: 'bot', url: 'https://agent.example.com' }, status: 400 });
    await call('GET', '/v2/agents', '/v2/agents?perPage=1');
    await call('GET', '/v2/agents/:id', `/v2/agents/${agent.id}`);
    await call('PATCH', '/v2/agents/:id', `/v2/agents/${agent.id}`, { body: { sampleRate: 24000 } });
    await call('PUT', '/v2/agents/:id', `/v2/agents/${agent.id}`, { body: { name: 'bot 2' } });
    // Dispatched to an agent nobody serves (the dial itself: test/e2e/agent-dispatch.test.ts): pending, then failed.
    const job = (await call('POST', '/v2/agent/dispatch', '/v2/agent/dispatch', { body: { agentId: agent.id, meetingId: 'doc-room', metadata: { doc: true } } })).data as { jobId: string };
    await call('POST', '/v2/agent/dispatch', '/v2/agent/dispatch', { body: { agentId: agent.id }, status: 400 });
    await call('POST', '/v2/agent/dispatch', '/v2/agent/dispatch', { body: { agentId: 'ag_0000000000000000', roomId: 'doc-room' }, status: 404 });
    await call('GET', '/v2/agent/dispatch/:id', `/v2/agent/dispatch/${job.jobId}`);
    await waitFor(async () => ((await (await t.api('GET', `/v2/agent/dispatch/${job.jobId}`, { token })).json()) as { data: { status: string } }).data.status === 'failed' || undefined, 10_000);
    await call('GET', '/v2/agent/dispatch/:id', `/v2/agent/dispatch/${job.jobId}`);
    await call('GET', '/v2/agent/dispatch/:id', '/v2/agent/dispatch/job_nope', { status: 404 });

    const ruleBody = { name: 'r', type: 'inbound', phoneNumbers: ['+14155550142'], room: { type: 'static', id: 'doc-room', pin: '1234' }, agentId: agent.id, tags: ['doc'] };
    const rule = (await call('POST', '/v2/sip/routing-rule', '/v2/sip/routing-rule', { body: ruleBody, status: 201 })) as { id: string };
    await call('POST', '/v2/sip/routing-rule', '/v2/sip/routing-rule', { body: ruleBody, status: 409 });
    await call('GET', '/v2/sip/routing-rule', '/v2/sip/routing-rule');
    await call('GET', '/v2/sip/routing-rule', '/v2/sip/routing-rule?search=doc&type=inbound');
    await call('GET', '/v2/sip/routing-rule/:id', `/v2/sip/routing-rule/${rule.id}`);
    await call('PATCH', '/v2/sip/routing-rule/:id', `/v2/sip/routing-rule/${rule.id}`, { body: { noiseCancellation: true, noiseCancellationLevel: 70 } });
    await call('PUT', '/v2/sip/routing-rule/:id', `/v2/sip/routing-rule/${rule.id}`, { body: { type: 'outbound' }, status: 400 });
    await call('DELETE', '/v2/agents/:id', `/v2/agents/${agent.id}`, { status: 409 });
    await call('PUT', '/v2/sip/routing-rule/:id', `/v2/sip/routing-rule/${rule.id}`, { body: { agentId: null } });
    await call('DELETE', '/v2/sip/routing-rule/:id', `/v2/sip/routing-rule/${rule.id}`);
    await call('DELETE', '/v2/agents/:id', `/v2/agents/${agent.id}`);

    // A webhook that cannot be reached (port 1): its delivery fails twice and is dead-lettered.
    const hook = (await call('POST', '/v2/sip/webhooks', '/v2/sip/webhooks', { body: { url: 'http://127.0.0.1:1/hook', events: ['call-hangup'] }, status: 201 })) as { id: string };
    await call('POST', '/v2/sip/webhooks', '/v2/sip/webhooks', { body: { url: 'http://127.0.0.1:1/hook', events: ['call-ended'] }, status: 400 });
    await call('GET', '/v2/sip/webhooks', '/v2/sip/webhooks?perPage=1');
    await call('GET', '/v2/sip/webhooks', '/v2/sip/webhooks?perPage=101', { status: 400 });
    await call('GET', '/v2/sip/webhooks/:id', `/v2/sip/webhooks/${hook.id}`);
    await call('PATCH', '/v2/sip/webhooks/:id', `/v2/sip/webhooks/${hook.id}`, { body: { events: ['call-hangup', 'call-missed'] } });
    await call('PUT', '/v2/sip/webhooks/:id', `/v2/sip/webhooks/${hook.id}`, { body: { events: ['call-hangup'] } });

    // A refused call (an invalid room id): a call record and a call-hangup delivery.
    const plivoCall = newCall();
    expect((await plivoRequest(`${t.stack.connector.webhookUrl}?roomId=bad%20room`, answerFields(plivoCall))).status).toBe(200);
    await call('GET', '/v2/sip/call', '/v2/sip/call');
    await call('GET', '/v2/sip/call', `/v2/sip/call?perPage=1&search=bad&startDate=0&endDate=${Date.now() + 1000}&type=inbound`);
    await call('GET', '/v2/sip/call', '/v2/sip/call?startDate=tomorrow', { status: 400 });
    await call('GET', '/v2/sip/call/:id', `/v2/sip/call/${callIdFor(plivoCall.callUuid)}`);
    await call('GET', '/v2/sip/call/:id', '/v2/sip/call/call_nope', { status: 404 });
    // Call control: the tenant's connectors hold no Plivo credentials (the placing itself: test/e2e/outbound-calls.test.ts).
    await call('POST', '/v2/sip/call', '/v2/sip/call', { body: { sipCallTo: '+14155550100', sipCallFrom: '+14155550199', roomId: 'doc-room' }, status: 409 });
    await call('POST', '/v2/sip/call', '/v2/sip/call', { body: { sipCallTo: '+14155550100', roomId: 'doc-room' }, status: 400 });
    await call('POST', '/v2/sip/call/end', '/v2/sip/call/end', { body: { callId: 'call_nope' }, status: 404 });
    await call('POST', '/v2/sip/call/end', '/v2/sip/call/end', { body: { callId: callIdFor(plivoCall.callUuid) }, status: 409 });
    // A live call switched to another room: the call as the request left it (the move itself: test/e2e/switch-room.test.ts).
    const live = new SimulatedCall({ answerUrl: t.stack.connector.webhookUrl });
    await live.connect(await live.answer());
    const liveId = callIdFor(live.callUuid);
    await waitFor(async () => ((await (await t.api('GET', `/v2/sip/call/${liveId}`, { token })).json()) as { data: { status: string } }).data.status === 'answered' || undefined);
    await call('POST', '/v2/sip/call/switch-room', '/v2/sip/call/switch-room', { body: { callId: liveId, roomId: 'doc-room-b', participantId: 'doc-caller' } });
    await call('POST', '/v2/sip/call/switch-room', '/v2/sip/call/switch-room', { body: { callId: 'call_nope', roomId: 'doc-room-b' }, status: 404 });
    await call('POST', '/v2/sip/call/switch-room', '/v2/sip/call/switch-room', { body: { callId: callIdFor(plivoCall.callUuid), roomId: 'doc-room-b' }, status: 409 });
    await call('POST', '/v2/sip/call/switch-room', '/v2/sip/call/switch-room', { body: { callId: liveId, roomId: 'bad room' }, status: 400 });
    // A transfer needs the connector's Plivo credentials (409 here; the transfer itself: test/e2e/outbound-calls.test.ts).
    await call('POST', '/v2/sip/call/transfer', '/v2/sip/call/transfer', { body: { callId: liveId, transferTo: '+14155550100' }, status: 409 });
    await call('POST', '/v2/sip/call/transfer', '/v2/sip/call/transfer', { body: { callId: 'call_nope', transferTo: 'sip:desk@example.com' }, status: 404 });
    await call('POST', '/v2/sip/call/transfer', '/v2/sip/call/transfer', { body: { callId: liveId, transferTo: 'desk' }, status: 400 });
    await live.hangup();
    const deliveries = `/v2/sip/webhooks/${hook.id}/deliveries`;
    const [failed] = await waitFor(async () => {
      const { data } = (await (await t.api('GET', `${deliveries}?status=failed`, { token })).json()) as { data: { id: string }[] };
      return data.length ? data : undefined;
    }, 15_000);
    await call('GET', '/v2/sip/webhooks/:id/deliveries', '/v2/sip/webhooks/:id/deliveries'.replace(':id', hook.id));
    await call('GET', '/v2/sip/webhooks/:id/deliveries/:deliveryId', `${deliveries}/${failed?.id}`);
    await call('POST', '/v2/sip/webhooks/:id/deliveries/:deliveryId/retry', `${deliveries}/${failed?.id}/retry`, { status: 202 });
    await call('POST', '/v2/sip/webhooks/:id/deliveries/:deliveryId/retry', `${deliveries}/${failed?.id}/retry`, { status: 409 });
    await call('DELETE', '/v2/sip/webhooks/:id', `/v2/sip/webhooks/${hook.id}`);
    await call('GET', '/v2/sip/webhooks/:id', `/v2/sip/webhooks/${hook.id}`, { status: 404 });

    const roomBody = { customRoomId: 'doc-rooms', webhook: { endPoint: 'http://localhost:9/rooms', events: ['session-ended'] }, autoCloseConfig: { type: 'session-ends', duration: 60 } };
    const room = (await call('POST', '/v2/rooms', '/v2/rooms', { body: roomBody, status: 201 })) as { id: string; roomId: string };
    await call('POST', '/v2/rooms', '/v2/rooms', { body: { customRoomId: 'bad room' }, status: 400 });
    await call('GET', '/v2/rooms', '/v2/rooms?perPage=1');
    await call('GET', '/v2/rooms', '/v2/rooms?query=doc-rooms');
    await call('GET', '/v2/rooms', '/v2/rooms?page=0', { status: 400 });
    await call('GET', '/v2/rooms/:id', `/v2/rooms/${room.id}`);
    await call('GET', '/v2/rooms/:id', '/v2/rooms/nope', { status: 404 });
    await call('GET', '/v2/rooms/validate/:id', `/v2/rooms/validate/${room.roomId}`);
    await call('GET', '/v2/rooms/validate/:id', '/v2/rooms/validate/nope', { status: 404 });
    // Its webhook cannot be reached (port 9): a session event's delivery fails twice and is dead-lettered.
    const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: t.stack.aws.sqsEndpoint });
    const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint });
    try {
      const queue = new DeliveryQueue(sqs, (await sqs.send(new GetQueueUrlCommand({ QueueName: LOCAL_WEBHOOK_QUEUE }))).QueueUrl as string);
      const deliveryStore = new DeliveryStore(dynamo, LOCAL_TABLE_NAME, { retentionDays: 1, redriveAfterSeconds: 60 });
      const sessions = new RoomWebhookPublisher({ rooms: new DynamoRoomStore(dynamo, LOCAL_TABLE_NAME), deliveries: deliveryStore, queue, cacheMs: 0, log: createLogger('error') });
      sessions.publish({ type: 'session-ended', tenant: 'demo', roomName: 'doc-rooms', eventId: 'ss_doc', data: { id: 'ss_doc', roomId: room.roomId, status: 'ended' }, timestamp: new Date().toISOString() });
      await sessions.settled();
    } finally {
      sqs.destroy();
      dynamo.destroy();
    }
    const roomDeliveries = `/v2/rooms/${room.id}/deliveries`;
    const [roomFailed] = await waitFor(async () => {
      const { data } = (await (await t.api('GET', `${roomDeliveries}?status=failed`, { token })).json()) as { data: { id: string }[] };
      return data.length ? data : undefined;
    }, 15_000);
    await call('GET', '/v2/rooms/:id/deliveries', '/v2/rooms/doc-rooms/deliveries?perPage=5');
    await call('GET', '/v2/rooms/:id/deliveries', '/v2/rooms/nope/deliveries', { status: 404 });
    await call('GET', '/v2/rooms/:id/deliveries/:deliveryId', `${roomDeliveries}/${roomFailed?.id}`);
    await call('GET', '/v2/rooms/:id/deliveries/:deliveryId', `${roomDeliveries}/whd_nope`, { status: 404 });
    await call('POST', '/v2/rooms/:id/deliveries/:deliveryId/retry', `${roomDeliveries}/${roomFailed?.id}/retry`, { status: 202 });
    await call('POST', '/v2/rooms/:id/deliveries/:deliveryId/retry', `${roomDeliveries}/${roomFailed?.id}/retry`, { status: 409 });
    await call('POST', '/v2/rooms/deactivate', '/v2/rooms/deactivate', { body: { roomId: 'doc-rooms' } });
    await call('POST', '/v2/rooms/deactivate', '/v2/rooms/deactivate', { body: { roomId: 'nope' }, status: 404 });
    await call('POST', '/v2/rooms/deactivate', '/v2/rooms/deactivate', { body: {}, status: 400 });
    await call('POST', '/v2/rooms/:roomId/tokens', '/v2/rooms/doc-room/tokens', { body: { ttlSeconds: 600 }, status: 201 });
    await call('POST', '/v2/rooms/:roomId/tokens', '/v2/rooms/doc-room/tokens', { token: 'not-a-token', status: 401 });
    // A room session, recorded by the media server as a participant joins (the records themselves: test/api/sessions.test.ts).
    const liveSession = async (room: string) => {
      const peer = await RoomPeer.join(t.stack.mediaUrl, room, { token, sampleRate: 8000 });
      const participantId = (await peer.next('joined')).participantId as string;
      const sessionId = await waitFor(async () => {
        const { data } = (await (await t.api('GET', `/v2/sessions?customRoomId=${room}&status=ongoing`, { token })).json()) as { data: { id: string }[] };
        return data[0]?.id;
      });
      await waitFor(async () => (await t.api('GET', `/v2/sessions/${sessionId}/participants/${participantId}`, { token })).status === 200 || undefined);
      return { peer, participantId, sessionId };
    };
    const { peer, participantId, sessionId } = await liveSession('doc-session');
    // A recording of it (its file and events: test/api/recordings.test.ts).
    const recording = (await call('POST', '/v2/recordings/start', '/v2/recordings/start', { body: { roomId: 'doc-session', awsDirPath: 'doc' } })) as { recordingId: string };
    await call('POST', '/v2/recordings/start', '/v2/recordings/start', { body: { roomId: 'doc-session' }, status: 409 });
    await call('POST', '/v2/recordings/start', '/v2/recordings/start', { body: { roomId: 'doc-session', awsDirPath: '../out' }, status: 400 });
    await call('GET', '/v2/recordings', `/v2/recordings?roomId=doc-session&sessionId=${sessionId}&perPage=5`);
    await call('GET', '/v2/recordings', '/v2/recordings?perPage=0', { status: 400 });
    await call('GET', '/v2/recordings/:id', `/v2/recordings/${recording.recordingId}`);
    await call('GET', '/v2/recordings/:id', '/v2/recordings/nope', { status: 404 });
    await call('DELETE', '/v2/recordings/:id', `/v2/recordings/${recording.recordingId}`, { status: 409 });
    await call('POST', '/v2/recordings/end', '/v2/recordings/end', { body: { roomId: 'doc-session' } });
    await call('POST', '/v2/recordings/end', '/v2/recordings/end', { body: { roomId: 'nope' }, status: 404 });
    await call('DELETE', '/v2/recordings/:id', '/v2/recordings/nope', { status: 404 });
    await call('GET', '/v2/sessions', `/v2/sessions?perPage=1&status=ongoing&customRoomId=doc-session&startDate=0&endDate=${Date.now() + 1000}`);
    await call('GET', '/v2/sessions', '/v2/sessions?status=live', { status: 400 });
    await call('GET', '/v2/sessions/:id', `/v2/sessions/${sessionId}`);
    await call('GET', '/v2/sessions/:id', '/v2/sessions/nope', { status: 404 });
    await call('GET', '/v2/sessions/:id/participants', `/v2/sessions/${sessionId}/participants?perPage=5`);
    await call('GET', '/v2/sessions/:id/participants/active', `/v2/sessions/${sessionId}/participants/active`);
    await call('GET', '/v2/sessions/:id/participants/:participantId', `/v2/sessions/${sessionId}/participants/${participantId}`);
    await call('GET', '/v2/sessions/:id/participants/:participantId', `/v2/sessions/${sessionId}/participants/web_nobody`, { status: 404 });
    await call('POST', '/v2/sessions/participants/remove', '/v2/sessions/participants/remove', { body: { sessionId, participantId: 'web_nobody' }, status: 404 });
    await call('POST', '/v2/sessions/participants/remove', '/v2/sessions/participants/remove', { body: { participantId }, status: 400 });
    await call('POST', '/v2/sessions/participants/remove', '/v2/sessions/participants/remove', { body: { roomId: 'doc-session', participantId } });
    await waitFor(() => (peer.closeCode === null ? undefined : true));
    const ending = await liveSession('doc-session');
    await call('POST', '/v2/sessions/end', '/v2/sessions/end', { body: { roomId: 'doc-session' } });
    await waitFor(() => (ending.peer.closeCode === null ? undefined : true));
    await call('POST', '/v2/sessions/end', '/v2/sessions/end', { body: { roomId: 'doc-session' }, status: 404 });
    await call('POST', '/v2/sessions/end', '/v2/sessions/end', { body: {}, status: 400 });
    await call('GET', '/v2/public/rsa-public-key', '/v2/public/rsa-public-key', { token: '' });
    const served = await call('GET', '/v2/public/openapi.json', '/v2/public/openapi.json', { token: '' });
    expect(served).toEqual(document);

    expect([...seen].sort()).toEqual([...routeKeys].sort());
  });
});
