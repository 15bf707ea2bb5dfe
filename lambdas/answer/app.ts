import { RoomNames } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { AnswerService } from '../../core/answer';
import { dynamoClient, kmsClient } from '../../core/aws';
import { DynamoCallStore } from '../../core/calls/store';
import { claimStoreFor } from '../../core/claims';
import type { ControlPlaneConfig } from '../../core/config';
import { DynamoConnectorStore } from '../../core/connectors/store';
import { ApiError } from '../../core/errors';
import { createLogger, type Logger } from '../../core/log';
import type { Params } from '../../core/plivo/signature';
import { sourceAllowList } from '../../core/plivo/source-ranges';
import { HANGUP_REJECTED_XML } from '../../core/plivo/xml';
import { DynamoRoutingRuleStore } from '../../core/routing/store';
import { DynamoAgentStore } from '../../core/agents/store';
import { SecretBox } from '../../core/secret-box';
import { webhookPublisher } from '../../core/webhooks/publisher';
import { header, MAX_BODY_BYTES, originCheck, rawBody } from '../http/request';
import type { HttpResult } from '../http/response';

export interface AnswerDependencies {
  readonly answers: AnswerService;
  readonly publicUrl: string;
  /** Whether a source address may call the Answer URL (`PLIVO_SOURCE_RANGES`); null: any may. */
  readonly fromPlivo: ((address: string) => boolean) | null;
  /** Whether a request carries the edge's origin secret (`ORIGIN_SECRET`); null: no edge, any request may. */
  readonly fromEdge: ((event: APIGatewayProxyEventV2) => boolean) | null;
  readonly log: Logger;
}

/** Builds the Answer URL's collaborators once per process; claims go to each media region's own table. */
export function answerDependencies(config: ControlPlaneConfig, log = createLogger(config.logLevel, { service: 'answer' })): AnswerDependencies {
  const dynamo = dynamoClient(config.aws);
  return {
    answers: new AnswerService({
      connectors: new DynamoConnectorStore(dynamo, config.tableName),
      rules: new DynamoRoutingRuleStore(dynamo, config.tableName),
      agents: new DynamoAgentStore(dynamo, config.tableName),
      calls: new DynamoCallStore(dynamo, config.tableName),
      rooms: new RoomNames(new DynamoRoomStore(dynamo, config.tableName), log),
      claims: claimStoreFor(config, dynamo),
      box: new SecretBox(kmsClient(config.aws), config.kmsKeyId),
      events: webhookPublisher(config, dynamo, log),
      config,
      log,
    }),
    publicUrl: config.publicUrl,
    fromPlivo: sourceAllowList(config.plivoSourceRanges),
    fromEdge: originCheck(config.originSecret),
    log,
  };
}

const xml = (statusCode: number, body: string, headers: Record<string, string> = {}): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'text/xml; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body,
});

function params(encoded: string): Params {
  const map = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(encoded)) map.set(key, [...(map.get(key) ?? []), value]);
  return map;
}

const HOOK_PATH = /^\/v2\/hooks\/plivo\/([^/]+)$/;

/**
 * `POST|GET /v2/hooks/plivo/{whk_key}`: Plivo's Answer (and by default Hangup) URL. Every answer is
 * Plivo XML, errors included, so Plivo hangs up cleanly instead of reporting a broken application.
 */
export function createAnswerHandler(deps: AnswerDependencies) {
  return async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const method = event.requestContext.http.method;
    // Only refusals and failures are logged here: the child is made for them alone.
    const log = () => deps.log.child({ requestId: event.requestContext.requestId });
    // First of all: a request that went around the edge (straight to execute-api) escaped its per-source limits.
    // Logged at debug only: API Gateway's access log has each one (403, source address), and a line per refusal here
    // would let a flood at execute-api double the log bill.
    if (deps.fromEdge && !deps.fromEdge(event)) {
      log().debug('answer refused: request did not come through the edge', { status: 403, sourceIp: event.requestContext.http.sourceIp });
      return xml(403, HANGUP_REJECTED_XML);
    }
    const key = HOOK_PATH.exec(event.rawPath)?.[1];
    if (!key) return xml(404, HANGUP_REJECTED_XML);
    // Before anything is read: a flood from outside Plivo's ranges costs a comparison.
    if (deps.fromPlivo && !deps.fromPlivo(event.requestContext.http.sourceIp)) {
      log().warn('answer refused: source outside PLIVO_SOURCE_RANGES', { status: 403, sourceIp: event.requestContext.http.sourceIp });
      return xml(403, HANGUP_REJECTED_XML);
    }
    if (method !== 'POST' && method !== 'GET') return xml(405, HANGUP_REJECTED_XML, { allow: 'POST, GET' });
    const body = rawBody(event);
    if (body.length > MAX_BODY_BYTES) return xml(413, HANGUP_REJECTED_XML);
    const contentType = header(event, 'content-type')?.split(';')[0]?.trim().toLowerCase();
    const form = method === 'POST' && contentType === 'application/x-www-form-urlencoded' ? params(body.toString('utf8')) : new Map();
    const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
    try {
      const result = await deps.answers.answer({
        webhookKey: key,
        method,
        url: `${deps.publicUrl}${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`,
        query: params(event.rawQueryString ?? ''),
        form,
        headers,
      });
      return xml(result.status, result.xml);
    } catch (err) {
      // The database or KMS is down (503: Plivo may try the application's fallback URL), or a bug.
      const status = err instanceof ApiError ? err.status : 500;
      log()[status >= 500 && !(err instanceof ApiError) ? 'error' : 'warn']('answer failed', { err, status });
      return xml(status, HANGUP_REJECTED_XML);
    }
  };
}
