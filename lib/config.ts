import type { Node } from 'constructs';
import { parseSourceRanges } from '../core/plivo/source-ranges';
import { EDGE_RATE_LIMIT_DEFAULTS, EDGE_RATE_LIMIT_RANGE, EDGE_RATE_WINDOW_SECONDS, type EdgeRateLimits } from '../lambdas/edge';
import { DEFAULT_PLIVO_API_URL } from '../core/plivo/voice-api';
import { RECORDING_RETENTION_DAYS } from './constructs/recordings-bucket';
import { SEGMENT_SECONDS } from '../core/recordings/model';

/** A media region: our own id (as Plivo-facing configuration names it) mapped to an AWS region. */
export interface MediaRegion {
  /** Our region id, e.g. `us002`. */
  readonly id: string;
  /** AWS region hosting this media region, e.g. `us-east-1`. */
  readonly awsRegion: string;
  /** Custom domain of the region's media service. @default - the load balancer's own name */
  readonly domainName?: string;
  /** ACM certificate for `domainName`, in `awsRegion`. @default - none */
  readonly certificateArn?: string;
}

/** A custom domain served by API Gateway with an ACM certificate in the same region. */
export interface CustomDomain {
  readonly domainName: string;
  readonly certificateArn: string;
}

/** How each region's media service scales (context `mediaScaling`); unset fields keep MediaService's defaults. */
export interface MediaScaling {
  /** Average calls per task autoscaling holds. @default 200 */
  readonly callsPerTask?: number;
  /** Most tasks per region. @default 20 */
  readonly maxTasks?: number;
}

/** What one tenant may use (context `limits`); unset fields keep the defaults of `core/limits.ts`. */
export interface TenantLimits {
  /** REST API requests per second per tenant; 0: none. @default 50 */
  readonly tenantRateLimit?: number;
  /** Rooms of one tenant on one media task at once. @default 1000 */
  readonly maxRoomsPerTenant?: number;
  /** Seats in one room (a call routed to an agent takes two). @default 100 */
  readonly maxParticipantsPerRoom?: number;
}

/** Deployment settings read from CDK context (`cdk.json` or `-c key=value`). */
export interface DeploymentConfig {
  readonly mediaRegions: readonly MediaRegion[];
  /** The media region whose AWS region also hosts the control plane. */
  readonly homeMediaRegion: MediaRegion;
  /** On the edge's distribution (certificate in us-east-1), else on API Gateway. @default - the edge's or the API's own name */
  readonly apiDomain?: CustomDomain;
  /**
   * The edge in front of the API (context `apiEdge`): CloudFront + AWS WAF with these per-source limits (context
   * `edgeRateLimits`); null with `"apiEdge": false`, for a deployment that fronts the API itself.
   * @default { rateLimits: EDGE_RATE_LIMIT_DEFAULTS }
   */
  readonly apiEdge: { readonly rateLimits: EdgeRateLimits } | null;
  /** ISO 3166 alpha-2 country of the caller -> media region id, e.g. `{IN: 'in002'}`. @default {} */
  readonly countryRegions: Readonly<Record<string, string>>;
  /** @default {} */
  readonly mediaScaling: MediaScaling;
  /** @default {} */
  readonly limits: TenantLimits;
  /** Plivo's published source ranges (CIDRs): the Answer URL answers no other source. @default [] (any source) */
  readonly plivoSourceRanges: readonly string[];
  /** Plivo's Voice API (context `plivoApiUrl`): an https URL. @default https://api.plivo.com */
  readonly plivoApiUrl: string;
  /**
   * The API's URL the web console calls (context `consoleApiUrl`): an https URL without a path, e.g. the stack's
   * `ApiUrl` output once deployed. @default - `https://<apiDomainName>` with a custom API domain, else none
   */
  readonly consoleApiUrl?: string;
  /**
   * Days each media region's recordings bucket keeps a recording (context `recordingRetentionDays`, 1-3650): the
   * bucket's lifecycle rule deletes it then. @default 90
   */
  readonly recordingRetentionDays: number;
  /**
   * Seconds of audio in each segment a media task uploads while recording (context `recordingSegmentSeconds`, 1-25):
   * what a recording loses at most when its task dies. @default 20
   */
  readonly recordingSegmentSeconds: number;
}

const REGION_ID = /^[a-z]{2}\d{3}$/;
const COUNTRY_CODE = /^[A-Z]{2}$/;
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;

/**
 * The deployment's settings as `cdk.json`'s context (or `-c key=value`) and `PlivoConnector`'s props spell them:
 * `cdk.context.example.json` shows each. Read into a `DeploymentConfig` by `parseDeploymentConfig`, whose errors name
 * the key (as "Context \"key\"") and show an example fix.
 */
export interface DeploymentContext {
  /** Region id (two letters, three digits) -> its AWS region, and its media service's custom domain with its certificate. */
  readonly mediaRegions: Readonly<Record<string, { readonly awsRegion: string; readonly domainName?: string; readonly certificateArn?: string }>>;
  /** The media region whose AWS region also hosts the control plane. */
  readonly homeMediaRegion: string;
  /** ISO 3166 alpha-2 country of the caller -> media region id. @default {} */
  readonly countryRegions?: Readonly<Record<string, string>>;
  /** The API's custom domain, with `apiCertificateArn` (in us-east-1 with the edge). @default - the edge's or the API's own name */
  readonly apiDomainName?: string;
  /** ACM certificate covering `apiDomainName`. @default - none */
  readonly apiCertificateArn?: string;
  /** CloudFront + AWS WAF in front of the API; false for a deployment that fronts the API itself. @default true */
  readonly apiEdge?: boolean;
  /** Requests per source address per 60 s at the edge: `hooks` (the Answer URL) and `api`. @default EDGE_RATE_LIMIT_DEFAULTS */
  readonly edgeRateLimits?: Partial<EdgeRateLimits>;
  /** @default {} */
  readonly mediaScaling?: MediaScaling;
  /** @default {} */
  readonly limits?: TenantLimits;
  /** Plivo's published source ranges (CIDRs): the Answer URL answers no other source. @default [] (any source) */
  readonly plivoSourceRanges?: readonly string[];
  /** Plivo's Voice API: an https URL without a path. @default https://api.plivo.com */
  readonly plivoApiUrl?: string;
  /** The API's URL the web console calls: an https URL without a path. @default - `https://<apiDomainName>`, else none */
  readonly consoleApiUrl?: string;
  /** Days each media region's recordings bucket keeps a recording (1-3650). @default 90 */
  readonly recordingRetentionDays?: number;
  /** Seconds of audio in each recording segment a media task uploads (1-25). @default 20 */
  readonly recordingSegmentSeconds?: number;
}

/** Every context key the deployment reads (a `Record` so that a key added to `DeploymentContext` must be listed). */
const CONTEXT_KEYS: Readonly<Record<keyof DeploymentContext, true>> = {
  mediaRegions: true,
  homeMediaRegion: true,
  countryRegions: true,
  apiDomainName: true,
  apiCertificateArn: true,
  apiEdge: true,
  edgeRateLimits: true,
  mediaScaling: true,
  limits: true,
  plivoSourceRanges: true,
  plivoApiUrl: true,
  consoleApiUrl: true,
  recordingRetentionDays: true,
  recordingSegmentSeconds: true,
};
export const DEPLOYMENT_CONTEXT_KEYS = Object.keys(CONTEXT_KEYS) as (keyof DeploymentContext)[];

/** The deployment's context values of `node` (cdk.json, `-c key=value`), JSON given as a string parsed, unchecked. */
export function deploymentContext(node: Node): { readonly [K in keyof DeploymentContext]?: unknown } {
  return Object.fromEntries(DEPLOYMENT_CONTEXT_KEYS.map((key) => [key, contextValue(node, key)]));
}

/** Reads and validates the deployment context of `node`. */
export function readDeploymentConfig(node: Node): DeploymentConfig {
  return parseDeploymentConfig(deploymentContext(node));
}

/** Validates deployment settings (context values or props, unchecked); throws with the offending key and an example fix. */
export function parseDeploymentConfig(values: { readonly [K in keyof DeploymentContext]?: unknown }): DeploymentConfig {
  const mediaRegions = readMediaRegions(values.mediaRegions);

  const homeId = values.homeMediaRegion;
  const homeMediaRegion = mediaRegions.find((region) => region.id === homeId);
  if (homeMediaRegion === undefined) {
    throw new Error(
      `Context "homeMediaRegion" must name one of the mediaRegions (${mediaRegions.map((r) => r.id).join(', ')}); ` +
        `got ${JSON.stringify(homeId)}. Example: "homeMediaRegion": "${mediaRegions[0]?.id ?? 'us002'}".`,
    );
  }

  const apiEdge = readApiEdge(values.apiEdge, values.edgeRateLimits);
  const apiDomain = readCustomDomain(
    // CloudFront takes certificates from us-east-1 only; API Gateway's regional domains from their own region.
    apiEdge ? 'us-east-1' : homeMediaRegion.awsRegion,
    'apiDomainName',
    values.apiDomainName,
    'apiCertificateArn',
    values.apiCertificateArn,
  );
  const countryRegions = readCountryRegions(values.countryRegions, mediaRegions);
  const mediaScaling = readMediaScaling(values.mediaScaling);
  const limits = readLimits(values.limits);
  const plivoSourceRanges = readSourceRanges(values.plivoSourceRanges);
  const plivoApiUrl = readHttpsOrigin('plivoApiUrl', values.plivoApiUrl, DEFAULT_PLIVO_API_URL) ?? DEFAULT_PLIVO_API_URL;
  const consoleApiUrl = readHttpsOrigin('consoleApiUrl', values.consoleApiUrl, 'https://api.example.com') ?? (apiDomain && `https://${apiDomain.domainName}`);
  const recordingRetentionDays = readWholeNumber('recordingRetentionDays', values.recordingRetentionDays, RECORDING_RETENTION_DAYS, 'days', 'after which recordings are deleted');
  const recordingSegmentSeconds = readWholeNumber('recordingSegmentSeconds', values.recordingSegmentSeconds, SEGMENT_SECONDS, 'seconds', 'of audio in each recording segment, what a dead task loses at most');
  return {
    mediaRegions,
    homeMediaRegion,
    countryRegions,
    mediaScaling,
    limits,
    plivoSourceRanges,
    plivoApiUrl,
    apiEdge,
    recordingRetentionDays,
    recordingSegmentSeconds,
    ...(apiDomain && { apiDomain }),
    ...(consoleApiUrl && { consoleApiUrl }),
  };
}

/** `-c key=value` on the command line always yields a string, so JSON objects arrive serialized. */
function contextValue(node: Node, key: string): unknown {
  const value: unknown = node.tryGetContext(key);
  if (typeof value === 'string' && value.trimStart().startsWith('{')) {
    try {
      return JSON.parse(value);
    } catch {
      throw new Error(`Context "${key}" looks like JSON but does not parse: ${value}`);
    }
  }
  return value;
}

function readMediaRegions(value: unknown): MediaRegion[] {
  const example = `"mediaRegions": {"us002": {"awsRegion": "us-east-1"}}`;
  if (!isRecord(value) || Object.keys(value).length === 0) {
    throw new Error(`Context "mediaRegions" must be a non-empty object of region id -> settings, e.g. ${example}.`);
  }
  return Object.entries(value).map(([id, settings]) => {
    const where = `Context "mediaRegions.${id}"`;
    if (!REGION_ID.test(id)) {
      throw new Error(`${where}: region ids are two lowercase letters and three digits, like "us002" or "in002".`);
    }
    if (!isRecord(settings) || typeof settings.awsRegion !== 'string' || !AWS_REGION.test(settings.awsRegion)) {
      throw new Error(`${where} needs "awsRegion", an AWS region name such as "us-east-1"; e.g. ${example}.`);
    }
    const domain = readCustomDomain(
      settings.awsRegion,
      `mediaRegions.${id}.domainName`,
      settings.domainName,
      `mediaRegions.${id}.certificateArn`,
      settings.certificateArn,
    );
    return { id, awsRegion: settings.awsRegion, ...domain };
  });
}

/** Checked here because the answer handler would otherwise refuse to start on a bad `COUNTRY_REGIONS`. */
function readCountryRegions(value: unknown, mediaRegions: readonly MediaRegion[]): Record<string, string> {
  if (value === undefined) return {};
  const ids = mediaRegions.map((region) => region.id);
  const example = `"countryRegions": {"IN": "${ids.at(-1) ?? 'in002'}"}`;
  if (!isRecord(value)) {
    throw new Error(`Context "countryRegions" must be an object of country code -> media region id, e.g. ${example}.`);
  }
  for (const [country, regionId] of Object.entries(value)) {
    if (!COUNTRY_CODE.test(country)) {
      throw new Error(
        `Context "countryRegions": "${country}" is not an ISO 3166 alpha-2 country code in upper case, like "IN".`,
      );
    }
    if (typeof regionId !== 'string' || !ids.includes(regionId)) {
      throw new Error(
        `Context "countryRegions.${country}" must name one of the mediaRegions (${ids.join(', ')}); ` +
          `got ${JSON.stringify(regionId)}. Map ${country} to one of them, or drop it (-c 'countryRegions={}').`,
      );
    }
  }
  return value as Record<string, string>;
}

function readMediaScaling(value: unknown): MediaScaling {
  if (value === undefined) return {};
  const example = '"mediaScaling": {"callsPerTask": 200, "maxTasks": 20}';
  if (!isRecord(value)) throw new Error(`Context "mediaScaling" must be an object, e.g. ${example}.`);
  const unknown = Object.keys(value).filter((key) => key !== 'callsPerTask' && key !== 'maxTasks');
  if (unknown.length > 0) {
    throw new Error(`Context "mediaScaling" knows only callsPerTask and maxTasks; got ${unknown.join(', ')}.`);
  }
  const positive = (key: keyof MediaScaling): { [key: string]: number } => {
    const number = value[key];
    if (number === undefined) return {};
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) {
      throw new Error(`Context "mediaScaling.${key}" must be a positive integer; got ${JSON.stringify(number)}.`);
    }
    return { [key]: number };
  };
  return { ...positive('callsPerTask'), ...positive('maxTasks') };
}

/** The same ranges the functions and the container accept (core/config.ts, ingest-container/src/config.ts). */
const LIMIT_RANGES: Readonly<Record<keyof TenantLimits, readonly [number, number]>> = {
  tenantRateLimit: [0, 100_000],
  maxRoomsPerTenant: [1, 1_000_000],
  maxParticipantsPerRoom: [2, 10_000],
};

function readLimits(value: unknown): TenantLimits {
  if (value === undefined) return {};
  const example = '"limits": {"tenantRateLimit": 50, "maxRoomsPerTenant": 1000, "maxParticipantsPerRoom": 100}';
  if (!isRecord(value)) throw new Error(`Context "limits" must be an object, e.g. ${example}.`);
  const keys = Object.keys(LIMIT_RANGES) as (keyof TenantLimits)[];
  const unknown = Object.keys(value).filter((key) => !(keys as string[]).includes(key));
  if (unknown.length > 0) throw new Error(`Context "limits" knows only ${keys.join(', ')}; got ${unknown.join(', ')}.`);
  const limits: { -readonly [K in keyof TenantLimits]: number } = {};
  for (const key of keys) {
    const number = value[key];
    if (number === undefined) continue;
    const [min, max] = LIMIT_RANGES[key];
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
      throw new Error(`Context "limits.${key}" must be a whole number from ${min} to ${max}; got ${JSON.stringify(number)}.`);
    }
    limits[key] = number;
  }
  return limits;
}

/** Context `key`: a whole number of `unit` within `range`, also as a string (`-c key=30` yields one); its default when unset. */
function readWholeNumber(key: string, value: unknown, range: { readonly min: number; readonly max: number; readonly default: number }, unit: string, meaning: string): number {
  if (value === undefined) return range.default;
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < range.min || number > range.max) {
    throw new Error(
      `Context "${key}" must be a whole number of ${unit} from ${range.min} to ${range.max}, ${meaning}; ` +
        `got ${JSON.stringify(value)}. Example: "${key}": ${range.default}.`,
    );
  }
  return number;
}

/** `apiEdge`: true (the default) or false, also as `-c apiEdge=false`; `edgeRateLimits` only with the edge on. */
function readApiEdge(enabled: unknown, limits: unknown): DeploymentConfig['apiEdge'] {
  if (enabled !== undefined && ![true, false, 'true', 'false'].includes(enabled as string)) {
    throw new Error(`Context "apiEdge" must be true or false (false: no CloudFront + WAF in front of the API); got ${JSON.stringify(enabled)}.`);
  }
  const on = enabled === undefined || enabled === true || enabled === 'true';
  if (!on) {
    if (limits !== undefined) throw new Error('Context "edgeRateLimits" needs the edge; drop it, or drop "apiEdge": false.');
    return null;
  }
  if (limits === undefined) return { rateLimits: EDGE_RATE_LIMIT_DEFAULTS };
  const example = `"edgeRateLimits": {"hooks": ${EDGE_RATE_LIMIT_DEFAULTS.hooks}, "api": ${EDGE_RATE_LIMIT_DEFAULTS.api}}`;
  if (!isRecord(limits)) throw new Error(`Context "edgeRateLimits" must be an object, e.g. ${example}.`);
  const keys = Object.keys(EDGE_RATE_LIMIT_DEFAULTS) as (keyof EdgeRateLimits)[];
  const unknown = Object.keys(limits).filter((key) => !(keys as string[]).includes(key));
  if (unknown.length > 0) throw new Error(`Context "edgeRateLimits" knows only ${keys.join(', ')}; got ${unknown.join(', ')}.`);
  const [min, max] = EDGE_RATE_LIMIT_RANGE;
  const rateLimits = { ...EDGE_RATE_LIMIT_DEFAULTS };
  for (const key of keys) {
    const number = limits[key];
    if (number === undefined) continue;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
      throw new Error(
        `Context "edgeRateLimits.${key}" must be a whole number of requests per source per ${EDGE_RATE_WINDOW_SECONDS} s ` +
          `from ${min} to ${max}; got ${JSON.stringify(number)}.`,
      );
    }
    rateLimits[key] = number;
  }
  return { rateLimits };
}

/** An https URL without a path (the call-control client appends `/v1/Account/…`). */
/** Context `key` as an https URL without a path (its origin); undefined when unset. */
function readHttpsOrigin(key: string, value: unknown, example: string): string | undefined {
  if (value === undefined) return undefined;
  const url = typeof value === 'string' && URL.canParse(value) ? new URL(value) : null;
  if (!url || url.protocol !== 'https:' || url.pathname !== '/' || url.search || url.hash) {
    throw new Error(`Context "${key}" must be an https URL without a path, e.g. "${key}": "${example}".`);
  }
  return url.origin;
}

/** A JSON array of CIDRs, or (from `-c`) one comma-separated string. */
function readSourceRanges(value: unknown): readonly string[] {
  if (value === undefined) return [];
  const example = '"plivoSourceRanges": ["18.214.109.128/25", "2600:1f18::/32"]';
  if (!(typeof value === 'string' || (Array.isArray(value) && value.every((range) => typeof range === 'string')))) {
    throw new Error(`Context "plivoSourceRanges" must be a list of CIDR ranges, e.g. ${example}.`);
  }
  try {
    return parseSourceRanges(Array.isArray(value) ? value.join(',') : value);
  } catch (err) {
    throw new Error(`Context "plivoSourceRanges": ${(err as Error).message}; e.g. ${example}.`);
  }
}

/** Regional endpoints only take an ACM certificate from their own region, hence `awsRegion`. */
function readCustomDomain(
  awsRegion: string,
  domainKey: string,
  domainName: unknown,
  certificateKey: string,
  certificateArn: unknown,
): CustomDomain | undefined {
  if (domainName === undefined && certificateArn === undefined) return undefined;
  if (domainName === undefined || certificateArn === undefined) {
    throw new Error(
      `Context "${domainKey}" and "${certificateKey}" go together: ` +
        'set both (the ACM certificate must cover the domain) or neither.',
    );
  }
  if (typeof domainName !== 'string' || !DOMAIN_NAME.test(domainName)) {
    throw new Error(
      `Context "${domainKey}" must be a lowercase DNS name such as "api.example.com"; ` +
        `got ${JSON.stringify(domainName)}.`,
    );
  }
  if (typeof certificateArn !== 'string' || !CERTIFICATE_ARN.test(certificateArn)) {
    throw new Error(
      `Context "${certificateKey}" must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>); ` +
        `got ${JSON.stringify(certificateArn)}.`,
    );
  }
  const certificateRegion = certificateArn.split(':')[3];
  if (certificateRegion !== awsRegion) {
    throw new Error(
      `Context "${certificateKey}" is a certificate in ${certificateRegion}, but it serves ${awsRegion}; ` +
        `request or import the certificate in ${awsRegion}.`,
    );
  }
  return { domainName, certificateArn };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
