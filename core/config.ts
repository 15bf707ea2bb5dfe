import { ConfigError, envValue, parseValue, readEnv, requiredEnv, type Env } from './env';
import { LIMIT_DEFAULTS } from './limits';
import type { LogLevel } from './log';
import { parseSourceRanges } from './plivo/source-ranges';
import { DEFAULT_PLIVO_API_TIMEOUT_MS, DEFAULT_PLIVO_API_URL } from './plivo/voice-api';

export { ConfigError };

/** Settings every control-plane entry point needs; read once at start, failing fast with the variable's name. */
export interface ControlPlaneConfig {
  /** DynamoDB table holding tenants, connectors and their webhook keys. */
  readonly tableName: string;
  /** KMS key (id, ARN or alias) that encrypts secrets at rest. */
  readonly kmsKeyId: string;
  /** KMS RSA_2048 key that signs webhook deliveries; null where this entry point does not sign or publish it. */
  readonly webhookSigningKeyId: string | null;
  /** External base URL of the API, without a trailing slash: webhook URLs are built on it. Empty in the media server, which builds none. */
  readonly publicUrl: string;
  /** Media regions a call may be streamed to, by id (e.g. `us002`); the first is listed first in errors. */
  readonly mediaRegions: readonly MediaRegionConfig[];
  /** Region of calls whose connector pins none and whose caller's country maps to none. */
  readonly homeMediaRegion: string;
  /** ISO country code of the caller's number -> media region id. */
  readonly countryRegions: Readonly<Record<string, string>>;
  /** How long Plivo has to open the stream after the Answer URL replied. */
  readonly claimTtlSeconds: number;
  /** How long call records are kept after they end. */
  readonly callRetentionDays: number;
  /** REST API requests per second per tenant, across all instances (`TENANT_RATE_LIMIT`); 0: no per-tenant limit. */
  readonly tenantRateLimit: number;
  /** The only sources the Answer URL answers (`PLIVO_SOURCE_RANGES`, Plivo's published CIDRs); empty: any source. */
  readonly plivoSourceRanges: readonly string[];
  /**
   * The secret the edge (CloudFront) sends with every request (`ORIGIN_SECRET`): an HTTP function refuses any request
   * without it, so the API's own endpoint serves nobody who bypasses the edge. Null: no edge, any request may.
   */
  readonly originSecret: string | null;
  /**
   * Base of Plivo's Voice API (`PLIVO_API_URL`), without a trailing slash: outbound calls, hangups and transfers go
   * there. `npm start` points it at its emulator unless the environment sets it.
   */
  readonly plivoApiUrl: string;
  /**
   * How long each request to Plivo's Voice API may take before it answers 504 `plivo_timeout` (`PLIVO_API_TIMEOUT_MS`,
   * 100-20000): never retried, so at most this long is added to a call-control request.
   */
  readonly plivoApiTimeoutMs: number;
  /**
   * How long a recording's presigned download URL (`file.fileUrl`) works (`RECORDING_URL_SECONDS`, 60-604800, S3's
   * limit of 7 days). In AWS it also ends when the signing role's session does (a Lambda's lasts hours at most).
   */
  readonly recordingUrlSeconds: number;
  readonly logLevel: LogLevel;
  readonly webhooks: WebhookConfig;
  readonly aws: AwsClientConfig;
}

/** Lifecycle webhook delivery. */
export interface WebhookConfig {
  /** SQS queue of pending deliveries; null where this entry point neither publishes nor re-drives. */
  readonly queueUrl: string | null;
  /** Where the delivery worker puts deliveries whose last attempt failed; null outside the worker. */
  readonly deadLetterQueueUrl: string | null;
  /** Waits before the 2nd, 3rd, ... attempt: as Plivo retries, 60, 120 and 240 s. */
  readonly retryDelaysSeconds: readonly number[];
  /**
   * A pending delivery not attempted this long after it fell due is sent again (its message was lost,
   * or never sent): longer than the queue's visibility timeout, so a message in flight is not doubled.
   */
  readonly redriveAfterSeconds: number;
  /**
   * How old the tenant's webhooks may be where a media server or the sweeper publishes a call event and decides
   * whether the call's state change waits in the outbox for it (`WEBHOOK_CACHE_SECONDS`; 0: read for every event).
   * A webhook created or changed during a call gets the call's later events from then on.
   */
  readonly cacheSeconds: number;
  /** Local mode only (never read from the environment): http and private addresses are allowed targets. */
  readonly allowPrivateTargets: boolean;
}

export interface MediaRegionConfig {
  readonly id: string;
  /** Public base of the region's stream ingest, `wss://host[:port]` (`ws://` locally). */
  readonly ingestUrl: string;
  /** The region's table, where claims live. */
  readonly claimsTable: string;
  /** AWS region of that table. @default the control plane's region */
  readonly awsRegion?: string;
  /** The region's recordings bucket (in `awsRegion`), written by its media servers (core/recordings). */
  readonly recordingsBucket: string;
}

export interface AwsClientConfig {
  readonly region: string;
  /** Local emulator endpoints; absent in AWS. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
  readonly sqsEndpoint?: string;
  readonly s3Endpoint?: string;
}

export const REGION_ID = /^[a-z][a-z0-9-]{1,31}$/;

const HTTP_URL = envValue.url(['http:', 'https:']);

/** MEDIA_REGIONS: JSON `{"us002": {"ingestUrl": "wss://…", "claimsTable": "…", "recordingsBucket": "…", "awsRegion": "us-east-1"}, …}`. */
export function parseMediaRegions(value: string): MediaRegionConfig[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ConfigError('MEDIA_REGIONS must be a JSON object of region id -> {ingestUrl, claimsTable, recordingsBucket, awsRegion?}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
    throw new ConfigError('MEDIA_REGIONS must name at least one region');
  }
  return Object.entries(parsed as Record<string, unknown>).map(([id, entry]) => {
    if (!REGION_ID.test(id)) throw new ConfigError(`MEDIA_REGIONS has an invalid region id "${id}"`);
    const e = (entry ?? {}) as Record<string, unknown>;
    if (typeof e.claimsTable !== 'string' || !e.claimsTable) throw new ConfigError(`MEDIA_REGIONS.${id}.claimsTable is required`);
    if (e.awsRegion !== undefined && typeof e.awsRegion !== 'string') throw new ConfigError(`MEDIA_REGIONS.${id}.awsRegion must be a string`);
    if (typeof e.ingestUrl !== 'string') throw new ConfigError(`MEDIA_REGIONS.${id}.ingestUrl is required`);
    if (typeof e.recordingsBucket !== 'string' || !e.recordingsBucket) throw new ConfigError(`MEDIA_REGIONS.${id}.recordingsBucket is required`);
    return {
      id,
      ingestUrl: parseValue(`MEDIA_REGIONS.${id}.ingestUrl`, e.ingestUrl, envValue.url(['wss:', 'ws:'])),
      claimsTable: e.claimsTable,
      recordingsBucket: e.recordingsBucket,
      ...(e.awsRegion !== undefined && { awsRegion: e.awsRegion }),
    };
  });
}

/** COUNTRY_REGIONS: `IN=in002,LK=in002` (ISO 3166 alpha-2 country -> region id). */
function parseCountryRegions(pairs: readonly string[], regions: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of pairs) {
    const [country = '', region = ''] = pair.split('=').map((s) => s.trim());
    if (!/^[A-Z]{2}$/.test(country)) throw new ConfigError(`COUNTRY_REGIONS has an invalid country code "${country}"`);
    if (!regions.includes(region)) throw new ConfigError(`COUNTRY_REGIONS maps ${country} to unknown region "${region}"`);
    map[country] = region;
  }
  return map;
}

/** PLIVO_SOURCE_RANGES (`parseSourceRanges`), for the Answer URL's handler and `npm start`'s edge. */
export function plivoSourceRanges(env: Env): readonly string[] {
  try {
    return parseSourceRanges(env.PLIVO_SOURCE_RANGES ?? '');
  } catch (err) {
    throw new ConfigError(`PLIVO_SOURCE_RANGES: ${(err as Error).message}`);
  }
}

export function loadAwsClientConfig(env: Env): AwsClientConfig {
  const endpoint = (name: string): string | undefined => readEnv(env, name, HTTP_URL, undefined);
  return {
    // The media server runs in its media region but uses the control plane's table, key and queue.
    region: env.CONTROL_PLANE_AWS_REGION?.trim() || env.AWS_REGION?.trim() || 'us-east-1',
    dynamodbEndpoint: endpoint('DYNAMODB_ENDPOINT'),
    kmsEndpoint: endpoint('KMS_ENDPOINT'),
    sqsEndpoint: endpoint('SQS_ENDPOINT'),
    s3Endpoint: endpoint('S3_ENDPOINT'),
  };
}

/** `publicUrl: false`: the entry point builds no public URL, so PUBLIC_URL is not required (the media server). */
export function loadControlPlaneConfig(env: Env, options: { publicUrl: boolean } = { publicUrl: true }): ControlPlaneConfig {
  const mediaRegions = parseMediaRegions(requiredEnv(env, 'MEDIA_REGIONS'));
  const ids = mediaRegions.map((r) => r.id);
  const homeMediaRegion = env.HOME_MEDIA_REGION?.trim() || (ids[0] ?? '');
  if (!ids.includes(homeMediaRegion)) throw new ConfigError(`HOME_MEDIA_REGION must be one of ${ids.join(', ')}, got "${homeMediaRegion}"`);
  return {
    tableName: requiredEnv(env, 'TABLE_NAME'),
    kmsKeyId: requiredEnv(env, 'KMS_KEY_ID'),
    webhookSigningKeyId: env.WEBHOOK_SIGNING_KEY_ID?.trim() || null,
    publicUrl: options.publicUrl ? parseValue('PUBLIC_URL', requiredEnv(env, 'PUBLIC_URL'), HTTP_URL) : '',
    mediaRegions,
    homeMediaRegion,
    countryRegions: parseCountryRegions(readEnv(env, 'COUNTRY_REGIONS', envValue.list(), []), ids),
    claimTtlSeconds: readEnv(env, 'CLAIM_TTL_SECONDS', envValue.integer(1), 90),
    callRetentionDays: readEnv(env, 'CALL_RETENTION_DAYS', envValue.integer(1), 30),
    tenantRateLimit: readEnv(env, 'TENANT_RATE_LIMIT', envValue.integer(0, 100_000), LIMIT_DEFAULTS.tenantRateLimit),
    plivoSourceRanges: plivoSourceRanges(env),
    originSecret: env.ORIGIN_SECRET || null,
    plivoApiUrl: readEnv(env, 'PLIVO_API_URL', HTTP_URL, DEFAULT_PLIVO_API_URL),
    // At most 20 s: a Make Call that times out must still answer inside API Gateway's 29 s.
    plivoApiTimeoutMs: readEnv(env, 'PLIVO_API_TIMEOUT_MS', envValue.integer(100, 20_000), DEFAULT_PLIVO_API_TIMEOUT_MS),
    recordingUrlSeconds: readEnv(env, 'RECORDING_URL_SECONDS', envValue.integer(60, 604_800), 900),
    logLevel: readEnv(env, 'LOG_LEVEL', envValue.logLevel(), 'info'),
    webhooks: {
      queueUrl: readEnv(env, 'WEBHOOK_QUEUE_URL', HTTP_URL, null),
      deadLetterQueueUrl: readEnv(env, 'WEBHOOK_DLQ_URL', HTTP_URL, null),
      // At most 8, so every attempt of a cycle stays under the queue's redrive limit of 10 receives; 0-43200 is SQS's visibility timeout range.
      retryDelaysSeconds: readEnv(env, 'WEBHOOK_RETRY_DELAYS', envValue.integers(0, 43200, 8, 'whole seconds'), [60, 120, 240]),
      redriveAfterSeconds: readEnv(env, 'WEBHOOK_REDRIVE_AFTER_SECONDS', envValue.integer(1), 300),
      cacheSeconds: readEnv(env, 'WEBHOOK_CACHE_SECONDS', envValue.integer(0, 3600), 10),
      allowPrivateTargets: false,
    },
    aws: loadAwsClientConfig(env),
  };
}
