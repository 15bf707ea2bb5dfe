import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { Authenticator, requirePermission, type Principal } from '../../core/auth';
import { dynamoClient, kmsClient } from '../../core/aws';
import type { ControlPlaneConfig } from '../../core/config';
import { createConnectorSchema, listQuerySchema, updateConnectorSchema } from '../../core/connectors/schema';
import { ConnectorService } from '../../core/connectors/service';
import { DynamoConnectorStore } from '../../core/connectors/store';
import { createLogger, type Logger } from '../../core/log';
import { SecretBox } from '../../core/secret-box';
import { holdsCredentials, PlivoAuthTokens } from '../../core/connectors/plivo-tokens';
import { CallControl } from '../../core/calls/control';
import { endCallSchema, listCallsQuerySchema, placeCallSchema, switchRoomSchema, transferCallSchema } from '../../core/calls/schema';
import { mediaCommands } from '../../core/media-commands';
import { CallService } from '../../core/calls/service';
import { DynamoCallStore } from '../../core/calls/store';
import { createRuleSchema, listRulesQuerySchema, updateRuleSchema } from '../../core/routing/schema';
import { RoutingRuleService } from '../../core/routing/service';
import { DynamoRoutingRuleStore, InboundNumberStore } from '../../core/routing/store';
import { createAgentSchema, updateAgentSchema } from '../../core/agents/schema';
import { AgentService } from '../../core/agents/service';
import { DynamoAgentStore } from '../../core/agents/store';
import { dispatchAgentSchema, DynamoDispatchJobStore } from '../../core/agents/dispatch';
import { AgentDispatchService } from '../../core/agents/dispatch-service';
import { roomTokenSchema, RoomTokenService } from '../../core/rooms';
import { mediaRoomCloser, mediaRoomServers, roomCommandSender } from '../../core/room-records/closer';
import { createRoomSchema, deactivateRoomSchema, listRoomsQuerySchema } from '../../core/room-records/schema';
import { RoomService } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { endRecordingSchema, listRecordingsQuerySchema, startRecordingSchema } from '../../core/recordings/schema';
import { RecordingService } from '../../core/recordings/service';
import { DynamoRecordingStore } from '../../core/recordings/store';
import { recordingBuckets } from '../../core/recordings/buckets';
import { endSessionSchema, listSessionsQuerySchema, removeParticipantSchema } from '../../core/sessions/schema';
import { SessionService } from '../../core/sessions/service';
import { DynamoSessionStore } from '../../core/sessions/store';
import { TenantStore } from '../../core/tenants';
import { webhookPublisher, webhookQueue, webhookStores } from '../../core/webhooks/publisher';
import { PlivoVoiceApi } from '../../core/plivo/voice-api';
import { createWebhookSchema, listDeliveriesQuerySchema, updateWebhookSchema } from '../../core/webhooks/schema';
import { DeliveryLog } from '../../core/webhooks/delivery-log';
import { WebhookService } from '../../core/webhooks/service';
import { WebhookSigner } from '../../core/webhooks/signing';
import { ServiceUnavailableError } from '../../core/errors';
import { parseWith } from '../../core/validation';
import { pageQuerySchema } from '../../core/pagination';
import { TenantRateLimiter } from '../../core/rate-limit';
import { header, jsonBody, originCheck, query } from '../http/request';
import { errorBody, errorResult, json, ok, type HttpResult } from '../http/response';
import { Router, type RouteHandler } from '../http/router';
import { openApiDocument } from './openapi';

export interface ApiDependencies {
  readonly auth: Authenticator;
  readonly connectors: ConnectorService;
  readonly rules: RoutingRuleService;
  readonly agents: AgentService;
  readonly dispatches: AgentDispatchService;
  readonly calls: CallService;
  readonly callControl: CallControl;
  readonly roomTokens: RoomTokenService;
  readonly rooms: RoomService;
  readonly sessions: SessionService;
  readonly recordings: RecordingService;
  readonly webhooks: WebhookService;
  /** The deliveries of webhooks' and rooms' events, by receiver. */
  readonly deliveries: DeliveryLog;
  /** Publishes the webhook signing key; null when WEBHOOK_SIGNING_KEY_ID is not set. */
  readonly webhookSigner: WebhookSigner | null;
  readonly mediaRegions: readonly string[];
  /** Counts each tenant's requests across instances; null when TENANT_RATE_LIMIT is 0. */
  readonly rateLimiter: TenantRateLimiter | null;
  /** Whether a request carries the edge's origin secret (`ORIGIN_SECRET`); null: no edge, any request may. */
  readonly fromEdge: ((event: APIGatewayProxyEventV2) => boolean) | null;
  readonly log: Logger;
}

/** Builds the API's collaborators once per process (Lambda cold start, or the local stack's start). */
export function apiDependencies(config: ControlPlaneConfig, log = createLogger(config.logLevel, { service: 'api' })): ApiDependencies {
  const dynamo = dynamoClient(config.aws);
  const kms = kmsClient(config.aws);
  const box = new SecretBox(kms, config.kmsKeyId);
  const connectorStore = new DynamoConnectorStore(dynamo, config.tableName);
  const ruleStore = new DynamoRoutingRuleStore(dynamo, config.tableName);
  const agentStore = new DynamoAgentStore(dynamo, config.tableName);
  const tenants = new TenantStore(dynamo, config.tableName, box);
  const callStore = new DynamoCallStore(dynamo, config.tableName);
  const plivoTokens = new PlivoAuthTokens(box);
  const { webhooks, deliveries: deliveryStore } = webhookStores(config, dynamo);
  const deliveries = new DeliveryLog({ deliveries: deliveryStore, queue: config.webhooks.queueUrl ? webhookQueue(config) : null, log });
  const roomStore = new DynamoRoomStore(dynamo, config.tableName);
  const roomCommands = roomCommandSender(config, dynamo, log);
  const roomServers = mediaRoomServers(config, dynamo);
  const sessionStore = new DynamoSessionStore(dynamo, config.tableName);
  const rooms = new RoomService({
    rooms: roomStore,
    closer: mediaRoomCloser(roomCommands),
    allowPrivateTargets: config.webhooks.allowPrivateTargets,
    log,
  });
  return {
    auth: new Authenticator(tenants),
    connectors: new ConnectorService(connectorStore, ruleStore, box, config.publicUrl, log, rooms),
    rules: new RoutingRuleService({
      rules: ruleStore,
      numbers: new InboundNumberStore(dynamo, config.tableName),
      connectors: connectorStore,
      agents: agentStore,
      rooms,
      log,
    }),
    agents: new AgentService({ agents: agentStore, rules: ruleStore, allowPrivateTargets: config.webhooks.allowPrivateTargets, log }),
    dispatches: new AgentDispatchService({
      agents: agentStore,
      jobs: new DynamoDispatchJobStore(dynamo, config.tableName, config.callRetentionDays),
      rooms,
      servers: roomServers,
      log,
    }),
    calls: new CallService(callStore),
    callControl: new CallControl({
      connectors: connectorStore,
      rules: ruleStore,
      calls: callStore,
      credentials: (connector) => plivoTokens.credentials(connector),
      holdsCredentials,
      rooms,
      plivo: new PlivoVoiceApi({ baseUrl: config.plivoApiUrl, timeoutMs: config.plivoApiTimeoutMs, allowPrivateTargets: config.webhooks.allowPrivateTargets }),
      commands: mediaCommands(config, dynamo),
      events: config.webhooks.queueUrl ? webhookPublisher(config, dynamo, log) : null,
      config,
      log,
    }),
    roomTokens: new RoomTokenService(tenants),
    rooms,
    sessions: new SessionService({ sessions: sessionStore, rooms: roomStore, commands: roomCommands, log }),
    recordings: new RecordingService({
      recordings: new DynamoRecordingStore(dynamo, config.tableName),
      rooms: roomStore,
      sessions: sessionStore,
      servers: roomServers,
      commands: roomCommands,
      config,
      files: recordingBuckets(config.aws),
      allowPrivateTargets: config.webhooks.allowPrivateTargets,
      log,
    }),
    webhooks: new WebhookService({ webhooks, deliveries, box, allowPrivateTargets: config.webhooks.allowPrivateTargets, log }),
    deliveries,
    webhookSigner: config.webhookSigningKeyId ? new WebhookSigner(kms, config.webhookSigningKeyId) : null,
    mediaRegions: config.mediaRegions.map((region) => region.id),
    rateLimiter: config.tenantRateLimit > 0 ? new TenantRateLimiter(dynamo, config.tableName, config.tenantRateLimit) : null,
    fromEdge: originCheck(config.originSecret),
    log,
  };
}

interface RequestContext {
  readonly principal: Principal;
  readonly deps: ApiDependencies;
}

const id = (params: Readonly<Record<string, string>>): string => params.id ?? '';

/** The connectors list (the contract's cursor list, kept as it was): the items, and where the next page starts. */
const listed = (page: { items: readonly unknown[]; nextCursor: string | null }, limit: number): HttpResult =>
  json(200, { data: page.items, pageInfo: { limit, nextCursor: page.nextCursor } });

/** The record id of the tenant's room `{id}` names (by `id`, `roomId` or `customRoomId`): 404 for another tenant's. */
const roomRecordId = async (params: Readonly<Record<string, string>>, principal: Principal, deps: ApiDependencies): Promise<string> =>
  (await deps.rooms.get(principal.tenant, id(params))).id;

/** PATCH and PUT alike (VideoSDK's API takes both): `url` and/or `events`, answering the webhook. */
const updateWebhook: RouteHandler<RequestContext, HttpResult> = async (event, params, { principal, deps }) =>
  json(200, await deps.webhooks.update(principal.tenant, id(params), parseWith(updateWebhookSchema, jsonBody(event))));

/** DELETE of a SIP-style resource (and an agent): `{message}` alone, once `service` deleted it. */
const deleted =
  (message: string, service: (deps: ApiDependencies) => { delete(tenant: string, id: string): Promise<unknown> }): RouteHandler<RequestContext, HttpResult> =>
  async (_event, params, { principal, deps }) => {
    await service(deps).delete(principal.tenant, id(params));
    return json(200, { message });
  };

/** PATCH and PUT alike: anything but `type`, answering the rule. */
const updateRule: RouteHandler<RequestContext, HttpResult> = async (event, params, { principal, deps }) =>
  json(200, await deps.rules.update(principal.tenant, id(params), parseWith(updateRuleSchema, jsonBody(event))));

/** PATCH and PUT alike, as for rules and webhooks: any of `name`, `url`, `sampleRate`, `metadata`, answering the agent. */
const updateAgent: RouteHandler<RequestContext, HttpResult> = async (event, params, { principal, deps }) =>
  json(200, await deps.agents.update(principal.tenant, id(params), parseWith(updateAgentSchema, jsonBody(event))));

export const routes = new Router<RequestContext, HttpResult>()
  .on('POST', '/v2/connectors', async (event, _params, { principal, deps }) => {
    const input = parseWith(createConnectorSchema(deps.mediaRegions), jsonBody(event));
    return ok(await deps.connectors.create(principal.tenant, input), 'Connector created successfully', 201);
  })
  .on('GET', '/v2/connectors', async (event, _params, { principal, deps }) => {
    const { limit, cursor } = parseWith(listQuerySchema, query(event), 'query');
    const page = await deps.connectors.list(principal.tenant, limit, cursor);
    return listed(page, limit);
  })
  .on('GET', '/v2/connectors/:id', async (_event, params, { principal, deps }) =>
    ok(await deps.connectors.get(principal.tenant, id(params))),
  )
  .on('PATCH', '/v2/connectors/:id', async (event, params, { principal, deps }) => {
    const input = parseWith(updateConnectorSchema(deps.mediaRegions), jsonBody(event));
    return ok(await deps.connectors.update(principal.tenant, id(params), input), 'Connector updated successfully');
  })
  .on('DELETE', '/v2/connectors/:id', async (_event, params, { principal, deps }) =>
    ok(await deps.connectors.delete(principal.tenant, id(params)), 'Connector deleted successfully'),
  )
  .on('POST', '/v2/connectors/:id/rotate-key', async (_event, params, { principal, deps }) =>
    ok(await deps.connectors.rotateKey(principal.tenant, id(params)), 'Webhook key rotated successfully'),
  )
  .on('POST', '/v2/sip/routing-rule', async (event, _params, { principal, deps }) =>
    json(201, await deps.rules.create(principal.tenant, parseWith(createRuleSchema, jsonBody(event)))),
  )
  .on('GET', '/v2/sip/routing-rule', async (event, _params, { principal, deps }) => {
    const { search, type, ...page } = parseWith(listRulesQuerySchema, query(event), 'query');
    return json(200, await deps.rules.list(principal.tenant, page, { search, type }));
  })
  .on('GET', '/v2/sip/routing-rule/:id', async (_event, params, { principal, deps }) => json(200, await deps.rules.get(principal.tenant, id(params))))
  .on('PATCH', '/v2/sip/routing-rule/:id', updateRule)
  .on('PUT', '/v2/sip/routing-rule/:id', updateRule)
  .on('DELETE', '/v2/sip/routing-rule/:id', deleted('Routing rule deleted successfully', (deps) => deps.rules))
  .on('POST', '/v2/agents', async (event, _params, { principal, deps }) =>
    json(201, await deps.agents.create(principal.tenant, parseWith(createAgentSchema, jsonBody(event)))),
  )
  .on('GET', '/v2/agents', async (event, _params, { principal, deps }) =>
    json(200, await deps.agents.list(principal.tenant, parseWith(pageQuerySchema, query(event), 'query'))),
  )
  .on('GET', '/v2/agents/:id', async (_event, params, { principal, deps }) => json(200, await deps.agents.get(principal.tenant, id(params))))
  .on('PATCH', '/v2/agents/:id', updateAgent)
  .on('PUT', '/v2/agents/:id', updateAgent)
  .on('DELETE', '/v2/agents/:id', deleted('Agent deleted successfully', (deps) => deps.agents))
  .on('POST', '/v2/agent/dispatch', async (event, _params, { principal, deps }) =>
    json(200, { data: await deps.dispatches.dispatch(principal.tenant, parseWith(dispatchAgentSchema, jsonBody(event))) }),
  )
  .on('GET', '/v2/agent/dispatch/:id', async (_event, params, { principal, deps }) => json(200, { data: await deps.dispatches.get(principal.tenant, id(params)) }))
  .on('GET', '/v2/sip/call', async (event, _params, { principal, deps }) => {
    const { page, perPage, ...filter } = parseWith(listCallsQuerySchema, query(event), 'query');
    return json(200, await deps.calls.list(principal.tenant, filter, { page, perPage }));
  })
  .on('POST', '/v2/sip/call', async (event, _params, { principal, deps }) =>
    json(201, { data: await deps.callControl.place(principal.tenant, parseWith(placeCallSchema, jsonBody(event))) }),
  )
  .on('POST', '/v2/sip/call/end', async (event, _params, { principal, deps }) =>
    json(200, { data: await deps.callControl.end(principal.tenant, parseWith(endCallSchema, jsonBody(event)).callId) }),
  )
  .on('POST', '/v2/sip/call/transfer', async (event, _params, { principal, deps }) =>
    json(200, { data: await deps.callControl.transfer(principal.tenant, parseWith(transferCallSchema, jsonBody(event))) }),
  )
  .on('POST', '/v2/sip/call/switch-room', async (event, _params, { principal, deps }) =>
    json(200, { data: await deps.callControl.switchRoom(principal.tenant, parseWith(switchRoomSchema, jsonBody(event))) }),
  )
  .on('GET', '/v2/sip/call/:id', async (_event, params, { principal, deps }) => json(200, { data: await deps.calls.get(principal.tenant, id(params)) }))
  .on('POST', '/v2/sip/webhooks', async (event, _params, { principal, deps }) =>
    json(201, await deps.webhooks.create(principal.tenant, parseWith(createWebhookSchema, jsonBody(event)))),
  )
  .on('GET', '/v2/sip/webhooks', async (event, _params, { principal, deps }) =>
    json(200, await deps.webhooks.list(principal.tenant, parseWith(pageQuerySchema, query(event), 'query'))),
  )
  .on('GET', '/v2/sip/webhooks/:id', async (_event, params, { principal, deps }) => json(200, await deps.webhooks.get(principal.tenant, id(params))))
  .on('PATCH', '/v2/sip/webhooks/:id', updateWebhook)
  .on('PUT', '/v2/sip/webhooks/:id', updateWebhook)
  .on('DELETE', '/v2/sip/webhooks/:id', deleted('Webhook deleted successfully', (deps) => deps.webhooks))
  .on('GET', '/v2/sip/webhooks/:id/deliveries', async (event, params, { principal, deps }) => {
    const { status, ...page } = parseWith(listDeliveriesQuerySchema, query(event), 'query');
    return json(200, await deps.webhooks.deliveries(principal.tenant, id(params), status, page));
  })
  .on('GET', '/v2/sip/webhooks/:id/deliveries/:deliveryId', async (_event, params, { principal, deps }) =>
    json(200, await deps.webhooks.delivery(principal.tenant, id(params), params.deliveryId ?? '')),
  )
  .on('POST', '/v2/sip/webhooks/:id/deliveries/:deliveryId/retry', async (_event, params, { principal, deps }) =>
    json(202, await deps.webhooks.retry(principal.tenant, id(params), params.deliveryId ?? '')),
  )
  .on('POST', '/v2/rooms', async (event, _params, { principal, deps }) =>
    json(201, await deps.rooms.create(principal.tenant, parseWith(createRoomSchema, event.body ? jsonBody(event) : {}))),
  )
  .on('GET', '/v2/rooms', async (event, _params, { principal, deps }) =>
    json(200, await deps.rooms.list(principal.tenant, parseWith(listRoomsQuerySchema, query(event), 'query'))),
  )
  .on('POST', '/v2/rooms/deactivate', async (event, _params, { principal, deps }) =>
    json(200, await deps.rooms.deactivate(principal.tenant, parseWith(deactivateRoomSchema, jsonBody(event)).roomId)),
  )
  .on('GET', '/v2/rooms/validate/:id', async (_event, params, { principal, deps }) => json(200, await deps.rooms.get(principal.tenant, id(params))))
  .on('GET', '/v2/rooms/:id', async (_event, params, { principal, deps }) => json(200, await deps.rooms.get(principal.tenant, id(params))))
  // A room's deliveries: those of its `webhook`'s events, filed under the room record's id.
  .on('GET', '/v2/rooms/:id/deliveries', async (event, params, { principal, deps }) => {
    const { status, ...page } = parseWith(listDeliveriesQuerySchema, query(event), 'query');
    return json(200, await deps.deliveries.page(principal.tenant, await roomRecordId(params, principal, deps), status, page));
  })
  .on('GET', '/v2/rooms/:id/deliveries/:deliveryId', async (_event, params, { principal, deps }) =>
    json(200, await deps.deliveries.get({ tenant: principal.tenant, webhookId: await roomRecordId(params, principal, deps), deliveryId: params.deliveryId ?? '' })),
  )
  .on('POST', '/v2/rooms/:id/deliveries/:deliveryId/retry', async (_event, params, { principal, deps }) =>
    json(202, await deps.deliveries.retry({ tenant: principal.tenant, webhookId: await roomRecordId(params, principal, deps), deliveryId: params.deliveryId ?? '' })),
  )
  .on('GET', '/v2/sessions', async (event, _params, { principal, deps }) => {
    const { page, perPage, ...filter } = parseWith(listSessionsQuerySchema, query(event), 'query');
    return json(200, await deps.sessions.list(principal.tenant, filter, { page, perPage }));
  })
  .on('POST', '/v2/sessions/end', async (event, _params, { principal, deps }) =>
    json(200, await deps.sessions.end(principal.tenant, parseWith(endSessionSchema, jsonBody(event)).roomId)),
  )
  .on('POST', '/v2/sessions/participants/remove', async (event, _params, { principal, deps }) =>
    json(200, await deps.sessions.removeParticipant(principal.tenant, parseWith(removeParticipantSchema, jsonBody(event)))),
  )
  .on('GET', '/v2/sessions/:id', async (_event, params, { principal, deps }) => json(200, await deps.sessions.get(principal.tenant, id(params))))
  .on('GET', '/v2/sessions/:id/participants', async (event, params, { principal, deps }) =>
    json(200, await deps.sessions.participants(principal.tenant, id(params), false, parseWith(pageQuerySchema, query(event), 'query'))),
  )
  .on('GET', '/v2/sessions/:id/participants/active', async (event, params, { principal, deps }) =>
    json(200, await deps.sessions.participants(principal.tenant, id(params), true, parseWith(pageQuerySchema, query(event), 'query'))),
  )
  .on('GET', '/v2/sessions/:id/participants/:participantId', async (_event, params, { principal, deps }) =>
    json(200, await deps.sessions.participant(principal.tenant, id(params), params.participantId ?? '')),
  )
  .on('POST', '/v2/recordings/start', async (event, _params, { principal, deps }) =>
    json(200, await deps.recordings.start(principal.tenant, parseWith(startRecordingSchema, jsonBody(event)))),
  )
  .on('POST', '/v2/recordings/end', async (event, _params, { principal, deps }) =>
    json(200, await deps.recordings.end(principal.tenant, parseWith(endRecordingSchema, jsonBody(event)))),
  )
  .on('GET', '/v2/recordings', async (event, _params, { principal, deps }) => {
    const { page, perPage, ...filter } = parseWith(listRecordingsQuerySchema, query(event), 'query');
    return json(200, await deps.recordings.list(principal.tenant, filter, { page, perPage }));
  })
  .on('GET', '/v2/recordings/:id', async (_event, params, { principal, deps }) => json(200, await deps.recordings.get(principal.tenant, id(params))))
  .on('DELETE', '/v2/recordings/:id', deleted('Recording deleted successfully', (deps) => deps.recordings))
  .on('POST', '/v2/rooms/:roomId/tokens', async (event, params, { principal, deps }) => {
    const { ttlSeconds } = parseWith(roomTokenSchema, event.body ? jsonBody(event) : {});
    return ok(await deps.roomTokens.mint(principal.tenant, params.roomId ?? '', ttlSeconds), 'Participant token created', 201);
  });

/** Built on its first request (about 30 ms: not on every cold start), then kept: it depends on nothing but the code. */
let openApi: ReturnType<typeof openApiDocument> | undefined;

/** Routes anyone may call: no token. */
export const publicRoutes = new Router<ApiDependencies, HttpResult>()
  .on('GET', '/v2/public/rsa-public-key', async (_event, _params, deps) => {
    if (!deps.webhookSigner) throw new ServiceUnavailableError('Webhook signing is not configured (WEBHOOK_SIGNING_KEY_ID)');
    return json(200, { publicKey: await deps.webhookSigner.publicKeyPem() }, { 'cache-control': 'public, max-age=3600' });
  })
  .on('GET', '/v2/public/openapi.json', () => Promise.resolve(json(200, (openApi ??= openApiDocument()), { 'cache-control': 'public, max-age=3600' })));

/**
 * The management API: public routes as they are; the rest authenticated, counted against the tenant's rate limit,
 * authorised (`allow_mod`), dispatched; errors mapped.
 */
export function createApiHandler(deps: ApiDependencies) {
  return async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const requestId = event.requestContext?.requestId;
    const log = deps.log.child({ requestId });
    // First of all: a request that went around the edge (straight to execute-api) escaped its per-source limits.
    // Logged at debug only: API Gateway's access log has each one (403, source address), and a line per refusal here
    // would let a flood at execute-api double the log bill.
    if (deps.fromEdge && !deps.fromEdge(event)) {
      log.debug('request refused: it did not come through the edge', { status: 403, sourceIp: event.requestContext?.http.sourceIp });
      return json(403, errorBody('origin_refused', 'Call the API at its public URL'));
    }
    const started = performance.now();
    let result: HttpResult;
    let tenant: string | undefined;
    try {
      if (event.rawPath.startsWith('/v2/public/')) {
        const { handler, params } = publicRoutes.resolve(event.requestContext.http.method, event.rawPath);
        result = await handler(event, params, deps);
      } else {
        const { handler, params } = routes.resolve(event.requestContext.http.method, event.rawPath);
        const principal = await deps.auth.authenticate(header(event, 'authorization'));
        tenant = principal.tenant;
        // Permission first: join-only tokens (handed to browsers) must not use up their tenant's API rate.
        requirePermission(principal, 'allow_mod');
        await deps.rateLimiter?.admit(principal.tenant);
        result = await handler(event, params, { principal, deps });
      }
    } catch (err) {
      result = errorResult(err, log);
    }
    log.info('request', {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: result.statusCode,
      tenant,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
    return result;
  };
}
