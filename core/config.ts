import { isLogLevel, type LogLevel } from './log';

/** Settings every control-plane entry point needs; read once at start, failing fast with the variable's name. */
export interface ControlPlaneConfig {
  /** DynamoDB table holding tenants, connectors and their webhook keys. */
  readonly tableName: string;
  /** KMS key (id, ARN or alias) that encrypts secrets at rest. */
  readonly kmsKeyId: string;
  /** External base URL of the API, without a trailing slash: webhook URLs are built on it. */
  readonly publicUrl: string;
  /** Media region ids a connector may be pinned to, e.g. `us002`. */
  readonly mediaRegions: readonly string[];
  readonly logLevel: LogLevel;
  readonly aws: AwsClientConfig;
}

export interface AwsClientConfig {
  readonly region: string;
  /** Local emulator endpoints; absent in AWS. */
  readonly dynamodbEndpoint?: string;
  readonly kmsEndpoint?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

export const REGION_ID = /^[a-z][a-z0-9-]{1,31}$/;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`Missing required environment variable ${name}`);
  return value;
}

function url(name: string, value: string, protocols: readonly string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL, got "${value}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')}, got "${value}"`);
  }
  if (parsed.search || parsed.hash) throw new ConfigError(`${name} must not have a query or fragment`);
  return parsed.toString().replace(/\/+$/, '');
}

export function parseMediaRegions(value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new ConfigError('MEDIA_REGIONS must name at least one region id');
  for (const id of ids) {
    if (!REGION_ID.test(id)) throw new ConfigError(`MEDIA_REGIONS has an invalid region id "${id}"`);
  }
  return [...new Set(ids)];
}

export function loadAwsClientConfig(env: Env): AwsClientConfig {
  const endpoint = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? url(name, value, ['http:', 'https:']) : undefined;
  };
  return {
    region: env.AWS_REGION?.trim() || 'us-east-1',
    dynamodbEndpoint: endpoint('DYNAMODB_ENDPOINT'),
    kmsEndpoint: endpoint('KMS_ENDPOINT'),
  };
}

export function loadControlPlaneConfig(env: Env): ControlPlaneConfig {
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!isLogLevel(logLevel)) throw new ConfigError(`LOG_LEVEL must be debug, info, warn or error, got "${logLevel}"`);
  return {
    tableName: required(env, 'TABLE_NAME'),
    kmsKeyId: required(env, 'KMS_KEY_ID'),
    publicUrl: url('PUBLIC_URL', required(env, 'PUBLIC_URL'), ['http:', 'https:']),
    mediaRegions: parseMediaRegions(required(env, 'MEDIA_REGIONS')),
    logLevel,
    aws: loadAwsClientConfig(env),
  };
}
