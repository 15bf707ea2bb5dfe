import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { callViewSchema, endCallSchema, listCallsQuerySchema, placeCallSchema, switchRoomSchema, transferCallSchema } from '../../core/calls/schema';
import { connectorViewSchema, createConnectorSchema, cursorPageSchema, listQuerySchema, updateConnectorSchema } from '../../core/connectors/schema';
import { ERROR_CODES, type ErrorCode } from '../../core/errors';
import { numberedPageSchema, pageQuerySchema } from '../../core/pagination';
import { roomTokenSchema, roomTokenViewSchema } from '../../core/rooms';
import { createRoomSchema, deactivateRoomSchema, listRoomsQuerySchema, roomSchema } from '../../core/room-records/schema';
import { endRecordingSchema, listRecordingsQuerySchema, recordingPageSchema, recordingSchema, recordingStartedSchema, startRecordingSchema } from '../../core/recordings/schema';
import { endSessionSchema, listSessionsQuerySchema, participantPageSchema, removeParticipantSchema, sessionPageSchema, sessionParticipantSchema, sessionSchema } from '../../core/sessions/schema';
import { createRuleSchema, listRulesQuerySchema, ruleViewSchema, updateRuleSchema } from '../../core/routing/schema';
import { agentSchema, createAgentSchema, updateAgentSchema } from '../../core/agents/schema';
import { dispatchAcceptedSchema, dispatchAgentSchema, dispatchJobSchema } from '../../core/agents/dispatch';
import {
  createdWebhookSchema,
  createWebhookSchema,
  deliverySchema,
  listDeliveriesQuerySchema,
  listedWebhookSchema,
  roomDeliverySchema,
  updateWebhookSchema,
  webhookSchema,
} from '../../core/webhooks/schema';

/**
 * The management API described as OpenAPI 3.1, from the zod schemas the routes validate requests with and the
 * shapes they answer. Served at `GET /v2/public/openapi.json` and committed as docs/openapi.json (`npm run openapi`);
 * test/api/openapi.test.ts checks that every route of the router is here and that real responses match.
 */

export const errorBodySchema = z
  .strictObject({
    message: z.string(),
    code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
    errors: z.array(z.strictObject({ field: z.string(), message: z.string() })).optional().meta({ description: 'The offending fields of a 400' }),
  })
  .meta({ id: 'Error' });

const ERROR_STATUSES: Readonly<Record<number, string>> = {
  400: 'Invalid request: a malformed body, an invalid field (`errors` lists them) or query parameter',
  401: 'A missing, invalid or expired token',
  403: 'The token lacks `allow_mod`, or the request did not come through the edge',
  404: 'No such resource (or another tenant’s)',
  405: 'The path takes other methods (`Allow` lists them)',
  409: 'Changed concurrently, in use, or at a limit (the message says which); call control: the call is not live, has been transferred 10 times (`transfer_limit`), or the connector lacks Plivo credentials',
  413: 'A body over 64 KB',
  415: 'A body that is not `application/json`',
  429: "Over the tenant's API rate (`Retry-After`)",
  502: "Plivo's Voice API refused the request (`plivo_error`, with Plivo's message)",
  503: 'The database or KMS is unavailable, or a feature is not configured (retry)',
  504: "Plivo's Voice API did not answer in time (`plivo_timeout`); the request was not retried",
};

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const idParam = z.object({ id: z.string().meta({ description: 'The resource id' }) });
const deliveryParams = idParam.extend({ deliveryId: z.string().meta({ description: 'A delivery id (`whd_…`)' }) });
const withMessage = (data: z.ZodType) => z.strictObject({ message: z.string(), data });
const withData = (data: z.ZodType) => z.strictObject({ data });
const messageOnly = z.strictObject({ message: z.string() }).meta({ id: 'Message' });

interface Operation {
  readonly summary: string;
  readonly tag: string;
  readonly status?: number;
  readonly response: z.ZodType;
  readonly path?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** Whether a 409 is among its answers. */
  readonly conflict?: boolean;
  /** Whether a 404 is among its answers though no path names a resource (a body does). */
  readonly notFound?: boolean;
  /** Whether it calls Plivo's Voice API (502, 504). */
  readonly plivo?: boolean;
  /** No token: `/v2/public/…`. */
  readonly public?: boolean;
  /** The body may be left out. */
  readonly optionalBody?: boolean;
}

function operation(op: Operation): ZodOpenApiOperationObject {
  // Every route, public ones too, answers 403 `origin_refused` to a request that did not come through the edge.
  const errors = op.public
    ? [403, 405]
    : [
        401,
        403,
        405,
        429,
        503,
        ...(op.body || op.query ? [400] : []),
        ...(op.path || op.notFound ? [404] : []),
        ...(op.body ? [413, 415] : []),
        ...(op.conflict ? [409] : []),
        ...(op.plivo ? [502, 504] : []),
      ];
  return {
    summary: op.summary,
    tags: [op.tag],
    ...(op.public ? { security: [] } : {}),
    ...((op.path || op.query) && { requestParams: { ...(op.path && { path: op.path }), ...(op.query && { query: op.query }) } }),
    ...(op.body && { requestBody: { required: !op.optionalBody, ...json(op.body) } }),
    responses: {
      [String(op.status ?? 200)]: { description: 'Success', ...json(op.response) },
      ...Object.fromEntries(errors.sort((a, b) => a - b).map((status) => [String(status), { description: ERROR_STATUSES[status] ?? '', ...json(errorBodySchema) }])),
    },
  };
}

/** Every route of lambdas/api/app.ts, keyed by `METHOD /path/{param}`. */
function operations(): Record<string, Operation> {
  const connectorCreate = createConnectorSchema([]);
  const connectorUpdate = updateConnectorSchema([]);
  const connector = { tag: 'Connectors' };
  const rule = { tag: 'SIP routing rules' };
  const agent = { tag: 'Agents' };
  const call = { tag: 'SIP call log' };
  const control = { tag: 'SIP call control' };
  const webhook = { tag: 'SIP webhooks' };
  const room = { tag: 'Rooms' };
  const session = { tag: 'Sessions' };
  const recording = { tag: 'Recordings' };
  const sessionParams = idParam.extend({ participantId: z.string().meta({ description: 'A participant id (`ph_…`, `web_…`, `ag_…`, or an outbound call\'s `participant.id`)' }) });
  return {
    'POST /v2/connectors': { ...connector, summary: 'Create a connector', status: 201, body: connectorCreate, response: withMessage(connectorViewSchema), conflict: true },
    'GET /v2/connectors': { ...connector, summary: 'List connectors, newest first', query: listQuerySchema, response: cursorPageSchema(connectorViewSchema) },
    'GET /v2/connectors/{id}': { ...connector, summary: 'Fetch a connector', path: idParam, response: withData(connectorViewSchema) },
    'PATCH /v2/connectors/{id}': { ...connector, summary: 'Change a connector', path: idParam, body: connectorUpdate, response: withMessage(connectorViewSchema), conflict: true },
    'DELETE /v2/connectors/{id}': { ...connector, summary: 'Delete a connector', path: idParam, response: withMessage(connectorViewSchema) },
    'POST /v2/connectors/{id}/rotate-key': { ...connector, summary: 'New webhook key: the old Answer URL stops resolving', path: idParam, response: withMessage(connectorViewSchema), conflict: true },
    'POST /v2/sip/routing-rule': { ...rule, summary: 'Create a routing rule (409: an inbound number another inbound rule holds)', status: 201, body: createRuleSchema, response: ruleViewSchema, conflict: true },
    'GET /v2/sip/routing-rule': { ...rule, summary: 'List routing rules by page, newest first; `search` over name, numbers and tags, `type`', query: listRulesQuerySchema, response: numberedPageSchema(ruleViewSchema) },
    'GET /v2/sip/routing-rule/{id}': { ...rule, summary: 'Fetch a routing rule', path: idParam, response: ruleViewSchema },
    'PATCH /v2/sip/routing-rule/{id}': { ...rule, summary: 'Change a routing rule (anything but `type`)', path: idParam, body: updateRuleSchema, response: ruleViewSchema, conflict: true },
    'PUT /v2/sip/routing-rule/{id}': { ...rule, summary: 'Change a routing rule (as PATCH)', path: idParam, body: updateRuleSchema, response: ruleViewSchema, conflict: true },
    'DELETE /v2/sip/routing-rule/{id}': { ...rule, summary: 'Delete a routing rule (409 while a connector names it)', path: idParam, response: messageOnly, conflict: true },
    'POST /v2/agents': { ...agent, summary: 'Register an agent the rules may dial (409 at 100 per tenant)', status: 201, body: createAgentSchema, response: agentSchema, conflict: true },
    'GET /v2/agents': { ...agent, summary: 'List agents by page, newest first', query: pageQuerySchema, response: numberedPageSchema(agentSchema) },
    'GET /v2/agents/{id}': { ...agent, summary: 'Fetch an agent', path: idParam, response: agentSchema },
    'PATCH /v2/agents/{id}': { ...agent, summary: 'Change an agent', path: idParam, body: updateAgentSchema, response: agentSchema, conflict: true },
    'PUT /v2/agents/{id}': { ...agent, summary: 'Change an agent (as PATCH)', path: idParam, body: updateAgentSchema, response: agentSchema, conflict: true },
    'DELETE /v2/agents/{id}': { ...agent, summary: 'Delete an agent (409 while a routing rule names it)', path: idParam, response: messageOnly, conflict: true },
    'POST /v2/agent/dispatch': { ...agent, summary: 'Dial an agent into a room now, with no call: a job, `pending` until the media server dialled it (`GET /v2/agent/dispatch/{jobId}`)', body: dispatchAgentSchema, response: withData(dispatchAcceptedSchema), notFound: true },
    'GET /v2/agent/dispatch/{id}': { ...agent, summary: 'A dispatch job: `pending`, then `dispatched` (the agent joined, as `participantId`) or `failed` (`reason`)', path: idParam, response: withData(dispatchJobSchema) },
    'GET /v2/sip/call': { ...call, summary: 'List calls by page, newest first, filtered (at most the date window’s newest 2,000: beyond them `pageInfo.totalIsLowerBound`)', query: listCallsQuerySchema, response: numberedPageSchema(callViewSchema) },
    'GET /v2/sip/call/{id}': { ...call, summary: 'Fetch a call', path: idParam, response: withData(callViewSchema) },
    'POST /v2/sip/call': { ...control, summary: 'Place an outbound call into a room through Plivo', status: 201, body: placeCallSchema, response: withData(callViewSchema), conflict: true, notFound: true, plivo: true },
    'POST /v2/sip/call/transfer': { ...control, summary: 'Transfer an answered call to a number or SIP URI (cold); a failed transfer brings the caller back into its room; 10 transfers per call at most', body: transferCallSchema, response: withData(callViewSchema), conflict: true, notFound: true, plivo: true },
    'POST /v2/sip/call/end': { ...control, summary: 'End a call: Plivo hangs it up', body: endCallSchema, response: withData(callViewSchema), conflict: true, notFound: true, plivo: true },
    'POST /v2/sip/call/switch-room': { ...control, summary: 'Move a live call to another room of the tenant, in the media server (no Plivo round trip): `switch-room-initiated`, then `-completed` or `-failed`', body: switchRoomSchema, response: withData(callViewSchema), conflict: true, notFound: true },
    'POST /v2/sip/webhooks': { ...webhook, summary: 'Register a webhook; its signing secret is shown only here', status: 201, body: createWebhookSchema, response: createdWebhookSchema, conflict: true },
    'GET /v2/sip/webhooks': { ...webhook, summary: 'List webhooks by page, newest first', query: pageQuerySchema, response: numberedPageSchema(listedWebhookSchema) },
    'GET /v2/sip/webhooks/{id}': { ...webhook, summary: 'Fetch a webhook', path: idParam, response: webhookSchema },
    'PATCH /v2/sip/webhooks/{id}': { ...webhook, summary: 'Change a webhook’s url and/or events', path: idParam, body: updateWebhookSchema, response: webhookSchema, conflict: true },
    'PUT /v2/sip/webhooks/{id}': { ...webhook, summary: 'Change a webhook’s url and/or events (as PATCH)', path: idParam, body: updateWebhookSchema, response: webhookSchema, conflict: true },
    'DELETE /v2/sip/webhooks/{id}': { ...webhook, summary: 'Delete a webhook; its pending deliveries are dead-lettered', path: idParam, response: messageOnly },
    'GET /v2/sip/webhooks/{id}/deliveries': { ...webhook, summary: 'A webhook’s deliveries by page, newest first, optionally of one `status` (at most its newest 500 are listed)', path: idParam, query: listDeliveriesQuerySchema, response: numberedPageSchema(deliverySchema) },
    'GET /v2/sip/webhooks/{id}/deliveries/{deliveryId}': { ...webhook, summary: 'Fetch a delivery', path: deliveryParams, response: deliverySchema },
    'POST /v2/sip/webhooks/{id}/deliveries/{deliveryId}/retry': { ...webhook, summary: 'Re-drive a dead-lettered delivery', status: 202, path: deliveryParams, response: deliverySchema, conflict: true },
    'POST /v2/rooms': {
      ...room,
      summary: 'Create a room; with a `customRoomId` a room holds already, that room (its `webhook` gets its session events; `autoCloseConfig` stored)',
      status: 201,
      body: createRoomSchema,
      optionalBody: true,
      response: roomSchema,
    },
    'GET /v2/rooms': { ...room, summary: 'List rooms by page, newest first; `query` matches a `roomId` or `customRoomId` exactly', query: listRoomsQuerySchema, response: numberedPageSchema(roomSchema) },
    'GET /v2/rooms/{id}': { ...room, summary: 'Fetch a room by `id`, `roomId` or `customRoomId`', path: idParam, response: roomSchema },
    'GET /v2/rooms/validate/{id}': { ...room, summary: 'Check that a room exists (404 when unknown); `disabled` says whether it may be joined', path: idParam, response: roomSchema },
    'GET /v2/rooms/{id}/deliveries': { ...room, summary: 'The deliveries of the room’s `webhook` (its session events) by page, newest first, optionally of one `status` (at most its newest 500 are listed)', path: idParam, query: listDeliveriesQuerySchema, response: numberedPageSchema(roomDeliverySchema) },
    'GET /v2/rooms/{id}/deliveries/{deliveryId}': { ...room, summary: 'Fetch a delivery of the room’s `webhook`', path: deliveryParams, response: roomDeliverySchema },
    'POST /v2/rooms/{id}/deliveries/{deliveryId}/retry': { ...room, summary: 'Re-drive a dead-lettered delivery of the room’s `webhook`', status: 202, path: deliveryParams, response: roomDeliverySchema, conflict: true },
    'POST /v2/rooms/deactivate': {
      ...room,
      summary: 'Deactivate a room for good: its participants are closed (4410), its calls end (`room-deactivated`), later joins and calls are refused',
      body: deactivateRoomSchema,
      response: roomSchema,
      conflict: true,
      notFound: true,
    },
    'POST /v2/rooms/{roomId}/tokens': {
      tag: 'Rooms',
      summary: 'Mint a participant token (`allow_join`) for a room',
      status: 201,
      path: z.object({ roomId: z.string() }),
      body: roomTokenSchema,
      optionalBody: true,
      response: withMessage(roomTokenViewSchema),
    },
    'GET /v2/sessions': {
      ...session,
      summary: 'List room sessions by page, newest first, filtered (at most the date window’s newest 1,000: beyond them `pageInfo.totalIsLowerBound`)',
      query: listSessionsQuerySchema,
      response: sessionPageSchema,
    },
    'GET /v2/sessions/{id}': { ...session, summary: 'Fetch a session', path: idParam, response: sessionSchema },
    'GET /v2/sessions/{id}/participants': { ...session, summary: 'A session’s participants by page, with their stays (`timelog`)', path: idParam, query: pageQuerySchema, response: participantPageSchema },
    'GET /v2/sessions/{id}/participants/active': { ...session, summary: 'The participants in the session’s room now', path: idParam, query: pageQuerySchema, response: participantPageSchema },
    'GET /v2/sessions/{id}/participants/{participantId}': { ...session, summary: 'Fetch a participant of a session', path: sessionParams, response: sessionParticipantSchema },
    'POST /v2/sessions/end': {
      ...session,
      summary: 'End a room’s live session: its participants are closed (4411), its calls end (`session-ended`); the room may be joined again',
      body: endSessionSchema,
      response: sessionSchema,
      notFound: true,
    },
    'POST /v2/sessions/participants/remove': {
      ...session,
      summary: 'Remove a participant of a room’s live session: a phone’s call ends through Plivo (`removed`), others are closed (4001)',
      body: removeParticipantSchema,
      response: messageOnly,
      notFound: true,
    },
    'POST /v2/recordings/start': {
      ...recording,
      summary: 'Record a room’s live session (its mix, mono WAV) until `/v2/recordings/end` or the session’s end: 409 with no live session or a room recording already going',
      body: startRecordingSchema,
      response: recordingStartedSchema,
      conflict: true,
      notFound: true,
    },
    'POST /v2/recordings/end': {
      ...recording,
      summary: 'Stop the room’s room recording, or its recording `id` (a call’s too); answers it, ended once its media server wrote it (up to 3 s)',
      body: endRecordingSchema,
      response: recordingSchema,
      conflict: true,
      notFound: true,
    },
    'GET /v2/recordings': { ...recording, summary: 'List recordings by page, newest first, of a room or session (at most the newest 1,000: beyond them `pageInfo.totalIsLowerBound`)', query: listRecordingsQuerySchema, response: recordingPageSchema },
    'GET /v2/recordings/{id}': { ...recording, summary: 'Fetch a recording: `file.fileUrl` is a presigned GET of its WAV once written, expiring (`RECORDING_URL_SECONDS`, 15 min)', path: idParam, response: recordingSchema },
    'DELETE /v2/recordings/{id}': { ...recording, summary: 'Delete an ended recording: its audio, then its record (409 while recording)', path: idParam, response: messageOnly, conflict: true },
    'GET /v2/public/rsa-public-key': {
      tag: 'Public',
      summary: 'The RSA public key that verifies `videosdk-signature` (no token)',
      public: true,
      response: z.strictObject({ publicKey: z.string() }),
    },
    'GET /v2/public/openapi.json': { tag: 'Public', summary: 'This document (no token)', public: true, response: z.looseObject({ openapi: z.literal('3.1.0') }) },
  };
}

/** Route keys as the router spells them (`:id`) turned into OpenAPI's (`{id}`). */
export const openApiKey = (method: string, pattern: string): string => `${method} ${pattern.replace(/:(\w+)/g, '{$1}')}`;

export function openApiDocument(): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const [key, op] of Object.entries(operations())) {
    const [method, path] = key.split(' ') as [string, string];
    paths[path] = { ...paths[path], [method.toLowerCase()]: operation(op) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Plivo connector management API',
      version: '2',
      description: 'Connectors, SIP webhooks, SIP routing rules, agents, call records, rooms, room sessions, recordings and room tokens. Errors are `{message, code}` (README, "Error codes").',
    },
    components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'A management token (`allow_mod`), bare or after `Bearer `' } } },
    security: [{ token: [] }],
    paths,
  });
}
