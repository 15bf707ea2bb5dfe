import { resolve } from 'node:path';
import { loadControlPlaneConfig, plivoSourceRanges, type ControlPlaneConfig } from '../core/config';
import { envValue, readEnv, type Env } from '../core/env';
import type { LogLevel } from '../core/log';
import { EDGE_RATE_LIMIT_DEFAULTS, EDGE_RATE_LIMIT_RANGE, type EdgeRateLimits } from '../lambdas/edge';
import { HTTP_FUNCTIONS, type HttpFunctionName, type RouteThrottle } from '../lambdas/routes';
import { LOCAL_KMS_KEY_ID, LOCAL_RECORDINGS_BUCKET, LOCAL_TABLE_NAME, LOCAL_WEBHOOK_SIGNING_KEY_ID } from './aws';
import type { EdgeRules } from './http-gateway';

/** Settings of the local stack (`npm start`), from the environment with embedded defaults. */
export interface LocalConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /**
   * Each function's per-route budget, as deployed (`HTTP_FUNCTIONS`); `API_RATE_LIMIT` and `API_BURST_LIMIT`
   * replace every route's (tests and benchmarks lift or lower them).
   */
  readonly throttles: Readonly<Record<HttpFunctionName, RouteThrottle>>;
  /** Media servers to run, each in its own process (`MEDIA_SERVERS`, 1-8). */
  readonly mediaServers: number;
  /**
   * Seconds between the sweeper's runs (`SWEEP_INTERVAL_SECONDS`, 1-60; AWS runs it every minute). Each sweep queries
   * the table four times, so an idle stack pays for it; what it finds (a missed call, a lost delivery message, an
   * event a crash left unpublished, a dead media server's calls) falls due 15 s or more after the fact anyway.
   */
  readonly sweepIntervalSeconds: number;
  /**
   * The edge's rules, as deployed by default (`apiEdge`); null with `API_EDGE=false`, as deployed with `apiEdge: false`
   * (then the Answer URL's handler checks `PLIVO_SOURCE_RANGES` itself). `EDGE_HOOKS_RATE_LIMIT` and
   * `EDGE_API_RATE_LIMIT` replace the per-source limits (tests lower them).
   */
  readonly edge: EdgeRules | null;
}

export const LOCAL_DEFAULTS = {
  PORT: '8080',
  HOST: '127.0.0.1',
  DATA_DIR: '.data',
  MEDIA_REGIONS: 'us002,in002',
  COUNTRY_REGIONS: 'IN=in002',
  LOG_LEVEL: 'info',
  MEDIA_SERVERS: '1',
  SWEEP_INTERVAL_SECONDS: '5',
  /** Longer than the local queue's visibility timeout (10 s), so a message in flight is not doubled. */
  WEBHOOK_REDRIVE_AFTER_SECONDS: '15',
} as const;

function throttle(env: Env, deployed: RouteThrottle): RouteThrottle {
  return {
    rateLimit: readEnv(env, 'API_RATE_LIMIT', envValue.integer(1), deployed.rateLimit),
    burstLimit: readEnv(env, 'API_BURST_LIMIT', envValue.integer(1), deployed.burstLimit),
  };
}

/** `API_EDGE=false` runs without the edge, as a deployment with `apiEdge: false` does. */
const edgeOff = (env: Env): boolean => !readEnv(env, 'API_EDGE', envValue.boolean(), true);

function edgeRules(env: Env): EdgeRules | null {
  if (edgeOff(env)) return null;
  const limit = envValue.integer(...EDGE_RATE_LIMIT_RANGE);
  const rateLimits: EdgeRateLimits = {
    hooks: readEnv(env, 'EDGE_HOOKS_RATE_LIMIT', limit, EDGE_RATE_LIMIT_DEFAULTS.hooks),
    api: readEnv(env, 'EDGE_API_RATE_LIMIT', limit, EDGE_RATE_LIMIT_DEFAULTS.api),
  };
  return { plivoSourceRanges: plivoSourceRanges(env), rateLimits };
}

export function loadLocalConfig(env: Env): LocalConfig {
  return {
    port: readEnv(env, 'PORT', envValue.port(), Number(LOCAL_DEFAULTS.PORT)),
    logLevel: readEnv(env, 'LOG_LEVEL', envValue.logLevel(), LOCAL_DEFAULTS.LOG_LEVEL),
    throttles: {
      api: throttle(env, HTTP_FUNCTIONS.api.throttle),
      answer: throttle(env, HTTP_FUNCTIONS.answer.throttle),
    },
    host: env.HOST?.trim() || LOCAL_DEFAULTS.HOST,
    mediaServers: readEnv(env, 'MEDIA_SERVERS', envValue.integer(1, 8), Number(LOCAL_DEFAULTS.MEDIA_SERVERS)),
    sweepIntervalSeconds: readEnv(env, 'SWEEP_INTERVAL_SECONDS', envValue.integer(1, 60), Number(LOCAL_DEFAULTS.SWEEP_INTERVAL_SECONDS)),
    edge: edgeRules(env),
    dataDir: resolve(env.DATA_DIR?.trim() || LOCAL_DEFAULTS.DATA_DIR),
  };
}

/**
 * The environment the Lambdas get in AWS, pointed at the local stand-ins. Every local media region streams
 * to this machine's media servers and keeps its claims in the one local table.
 */
export function localControlPlaneEnv(
  env: Env,
  endpoints: { dynamodbEndpoint: string; kmsEndpoint: string; sqsEndpoint: string; s3Endpoint: string },
  queues: { queueUrl: string; deadLetterQueueUrl: string },
  apiUrl: string,
  /** The Plivo emulator's URL, used unless the environment sets `PLIVO_API_URL`. */
  plivoEmulatorUrl?: string,
): Record<string, string> {
  const publicUrl = env.PUBLIC_URL?.trim() || apiUrl;
  const settings: Record<string, string | undefined> = {
    TABLE_NAME: LOCAL_TABLE_NAME,
    KMS_KEY_ID: LOCAL_KMS_KEY_ID,
    WEBHOOK_SIGNING_KEY_ID: LOCAL_WEBHOOK_SIGNING_KEY_ID,
    PUBLIC_URL: publicUrl,
    MEDIA_REGIONS: JSON.stringify(
      Object.fromEntries(
        readEnv(env, 'MEDIA_REGIONS', envValue.list(), LOCAL_DEFAULTS.MEDIA_REGIONS.split(',')).map((id) => [id, { ingestUrl: publicUrl.replace(/^http/, 'ws'), claimsTable: LOCAL_TABLE_NAME, recordingsBucket: LOCAL_RECORDINGS_BUCKET }]),
      ),
    ),
    HOME_MEDIA_REGION: env.HOME_MEDIA_REGION,
    COUNTRY_REGIONS: env.COUNTRY_REGIONS ?? LOCAL_DEFAULTS.COUNTRY_REGIONS,
    CLAIM_TTL_SECONDS: env.CLAIM_TTL_SECONDS,
    CALL_RETENTION_DAYS: env.CALL_RETENTION_DAYS,
    TENANT_RATE_LIMIT: env.TENANT_RATE_LIMIT,
    // The media servers get it too: their environment is this one.
    PLIVO_API_URL: env.PLIVO_API_URL?.trim() || plivoEmulatorUrl,
    PLIVO_API_TIMEOUT_MS: env.PLIVO_API_TIMEOUT_MS,
    RECORDING_URL_SECONDS: env.RECORDING_URL_SECONDS,
    // Behind the edge the function sees the edge's address, not Plivo's: the edge checks the ranges instead.
    PLIVO_SOURCE_RANGES: edgeOff(env) ? env.PLIVO_SOURCE_RANGES : undefined,
    LOG_LEVEL: env.LOG_LEVEL ?? LOCAL_DEFAULTS.LOG_LEVEL,
    WEBHOOK_QUEUE_URL: queues.queueUrl,
    WEBHOOK_DLQ_URL: queues.deadLetterQueueUrl,
    WEBHOOK_RETRY_DELAYS: env.WEBHOOK_RETRY_DELAYS,
    WEBHOOK_REDRIVE_AFTER_SECONDS: env.WEBHOOK_REDRIVE_AFTER_SECONDS ?? LOCAL_DEFAULTS.WEBHOOK_REDRIVE_AFTER_SECONDS,
    WEBHOOK_CACHE_SECONDS: env.WEBHOOK_CACHE_SECONDS,
    AWS_REGION: 'us-east-1',
    CONTROL_PLANE_AWS_REGION: 'us-east-1',
    DYNAMODB_ENDPOINT: endpoints.dynamodbEndpoint,
    KMS_ENDPOINT: endpoints.kmsEndpoint,
    SQS_ENDPOINT: endpoints.sqsEndpoint,
    S3_ENDPOINT: endpoints.s3Endpoint,
  };
  return Object.fromEntries(Object.entries(settings).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** The control-plane config the Lambdas get in AWS, from `localControlPlaneEnv`. */
export function localControlPlaneConfig(controlEnv: Env): ControlPlaneConfig {
  const config = loadControlPlaneConfig(controlEnv);
  // Local mode is the only place webhooks may go to http://localhost and private addresses.
  return { ...config, webhooks: { ...config.webhooks, allowPrivateTargets: true } };
}

/** The media server's own settings `npm start` passes on to its media servers when they are set. */
const MEDIA_SETTINGS = [
  'PLACEMENT_LEASE_SECONDS',
  'DRAIN_TIMEOUT_SECONDS',
  'ECS_AGENT_URI',
  'MAX_ROOMS_PER_TENANT',
  'MAX_PARTICIPANTS_PER_ROOM',
  'MAX_QUEUED_AUDIO_MB_PER_ROOM',
  'MAX_QUEUED_AUDIO_MB',
  'MAX_CONNECTIONS',
  'MAX_CONNECTIONS_PER_TENANT',
  'MAX_RECORDINGS',
  'RECORDING_SEGMENT_SECONDS',
  'STREAM_START_TIMEOUT_SECONDS',
] as const;

/** What a local media server's process gets: the container's environment, on loopback and ephemeral ports. */
export function localMediaEnv(env: Env, controlEnv: Readonly<Record<string, string>>, region: string): Record<string, string> {
  const passed = MEDIA_SETTINGS.filter((name) => env[name] !== undefined);
  return {
    ...(Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined)) as Record<string, string>),
    ...controlEnv,
    ...Object.fromEntries(passed.map((name) => [name, env[name] as string])),
    MEDIA_REGION: region,
    PORT: '0',
    RELAY_PORT: '0',
    HOST: '127.0.0.1',
    RELAY_HOST: '127.0.0.1',
    // Local mode alone lets agents, like webhooks, be at localhost and private addresses.
    ALLOW_PRIVATE_TARGETS: 'true',
  };
}
