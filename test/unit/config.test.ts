import { ConfigError, loadControlPlaneConfig } from '../../core/config';
import { loadMediaConfig } from '../../ingest-container/src/config';
import { loadLocalConfig, localControlPlaneConfig, localControlPlaneEnv, localMediaEnv } from '../../local/config';

const regions = { us002: { ingestUrl: 'wss://us.example.com/', claimsTable: 'claims-us', recordingsBucket: 'rec-us' }, in002: { ingestUrl: 'wss://in.example.com', claimsTable: 'claims-in', recordingsBucket: 'rec-in', awsRegion: 'ap-south-1' } };
const valid = { TABLE_NAME: 't', KMS_KEY_ID: 'k', PUBLIC_URL: 'https://api.example.com/', MEDIA_REGIONS: JSON.stringify(regions) };

describe('loadControlPlaneConfig', () => {
  it('reads a valid environment, normalising URLs and applying defaults', () => {
    expect(loadControlPlaneConfig(valid)).toEqual({
      tableName: 't',
      kmsKeyId: 'k',
      webhookSigningKeyId: null,
      publicUrl: 'https://api.example.com',
      mediaRegions: [
        { id: 'us002', ingestUrl: 'wss://us.example.com', claimsTable: 'claims-us', recordingsBucket: 'rec-us' },
        { id: 'in002', ingestUrl: 'wss://in.example.com', claimsTable: 'claims-in', recordingsBucket: 'rec-in', awsRegion: 'ap-south-1' },
      ],
      homeMediaRegion: 'us002',
      countryRegions: {},
      claimTtlSeconds: 90,
      callRetentionDays: 30,
      recordingRetentionDays: 90,
      tenantRateLimit: 50,
      plivoSourceRanges: [],
      originSecret: null,
      plivoApiUrl: 'https://api.plivo.com',
      plivoApiTimeoutMs: 10_000,
      recordingUrlSeconds: 900,
      logLevel: 'info',
      webhooks: { queueUrl: null, deadLetterQueueUrl: null, retryDelaysSeconds: [60, 120, 240], redriveAfterSeconds: 300, cacheSeconds: 10, allowPrivateTargets: false },
      aws: { region: 'us-east-1', dynamodbEndpoint: undefined, kmsEndpoint: undefined, sqsEndpoint: undefined },
    });
  });

  it('reads the webhook queues and retry schedule, and never lets the environment allow private targets', () => {
    const config = loadControlPlaneConfig({
      ...valid,
      WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q',
      WEBHOOK_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/1/dlq',
      WEBHOOK_RETRY_DELAYS: '1, 2,3',
      WEBHOOK_REDRIVE_AFTER_SECONDS: '30',
      WEBHOOK_CACHE_SECONDS: '0',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    });
    expect(config.webhooks).toEqual({
      queueUrl: 'https://sqs.us-east-1.amazonaws.com/1/q',
      deadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/dlq',
      retryDelaysSeconds: [1, 2, 3],
      redriveAfterSeconds: 30,
      cacheSeconds: 0,
      allowPrivateTargets: false,
    });
  });

  it('reads the home region, the country map, the durations and the webhook signing key', () => {
    const config = loadControlPlaneConfig({ ...valid, HOME_MEDIA_REGION: 'in002', COUNTRY_REGIONS: 'IN=in002, US=us002', CLAIM_TTL_SECONDS: '5', CALL_RETENTION_DAYS: '7', WEBHOOK_SIGNING_KEY_ID: ' alias/hooks ' });
    expect(config).toMatchObject({ homeMediaRegion: 'in002', countryRegions: { IN: 'in002', US: 'us002' }, claimTtlSeconds: 5, callRetentionDays: 7, webhookSigningKeyId: 'alias/hooks' });
  });

  it('reads the per-tenant API rate limit; 0 turns it off', () => {
    expect(loadControlPlaneConfig({ ...valid, TENANT_RATE_LIMIT: ' 200 ' }).tenantRateLimit).toBe(200);
    expect(loadControlPlaneConfig({ ...valid, TENANT_RATE_LIMIT: '0' }).tenantRateLimit).toBe(0);
  });

  it("reads Plivo's source ranges: none by default (any source), else the CIDRs listed", () => {
    expect(loadControlPlaneConfig(valid).plivoSourceRanges).toEqual([]);
    expect(loadControlPlaneConfig({ ...valid, PLIVO_SOURCE_RANGES: ' 18.214.109.128/25 , 2600:1f18::/32 ' }).plivoSourceRanges).toEqual(['18.214.109.128/25', '2600:1f18::/32']);
  });

  it("reads Plivo's Voice API base: api.plivo.com by default, else the URL set, without its trailing slash", () => {
    expect(loadControlPlaneConfig({ ...valid, PLIVO_API_URL: ' ' }).plivoApiUrl).toBe('https://api.plivo.com');
    expect(loadControlPlaneConfig({ ...valid, PLIVO_API_URL: 'http://127.0.0.1:4010/' }).plivoApiUrl).toBe('http://127.0.0.1:4010');
    expect(() => loadControlPlaneConfig({ ...valid, PLIVO_API_URL: 'ftp://plivo' })).toThrow('PLIVO_API_URL must use http: or https:, got "ftp://plivo"');
  });

  it("reads how long a Plivo Voice API request may take: 10 s by default, 100 ms to 20 s (inside API Gateway's 29 s)", () => {
    expect(loadControlPlaneConfig({ ...valid, PLIVO_API_TIMEOUT_MS: ' 500 ' }).plivoApiTimeoutMs).toBe(500);
    expect(() => loadControlPlaneConfig({ ...valid, PLIVO_API_TIMEOUT_MS: '25000' })).toThrow('PLIVO_API_TIMEOUT_MS must be a whole number 100-20000, got "25000"');
    expect(() => loadControlPlaneConfig({ ...valid, PLIVO_API_TIMEOUT_MS: '1.5' })).toThrow('PLIVO_API_TIMEOUT_MS must be a whole number 100-20000, got "1.5"');
  });

  it("reads how long a recording's download URL works: 15 min by default, 1 min to S3's 7 days", () => {
    expect(loadControlPlaneConfig({ ...valid, RECORDING_URL_SECONDS: ' 60 ' }).recordingUrlSeconds).toBe(60);
    expect(loadControlPlaneConfig({ ...valid, RECORDING_URL_SECONDS: '604800' }).recordingUrlSeconds).toBe(604_800);
    expect(() => loadControlPlaneConfig({ ...valid, RECORDING_URL_SECONDS: '59' })).toThrow(new ConfigError('RECORDING_URL_SECONDS must be a whole number 60-604800, got "59"'));
    expect(() => loadControlPlaneConfig({ ...valid, RECORDING_URL_SECONDS: '604801' })).toThrow(new ConfigError('RECORDING_URL_SECONDS must be a whole number 60-604800, got "604801"'));
  });

  it('reads the origin secret the edge sends: none by default (no edge), else the value as it is', () => {
    expect(loadControlPlaneConfig({ ...valid, ORIGIN_SECRET: '' }).originSecret).toBeNull();
    expect(loadControlPlaneConfig({ ...valid, ORIGIN_SECRET: 'kQ7vXo2lT9bRzW4n' }).originSecret).toBe('kQ7vXo2lT9bRzW4n');
  });

  it.each([
    [{ TABLE_NAME: undefined }, 'Missing required environment variable TABLE_NAME'],
    [{ KMS_KEY_ID: ' ' }, 'Missing required environment variable KMS_KEY_ID'],
    [{ PUBLIC_URL: undefined }, 'Missing required environment variable PUBLIC_URL'],
    [{ PUBLIC_URL: 'api.example.com' }, 'PUBLIC_URL must be an absolute URL'],
    [{ PUBLIC_URL: 'ftp://api.example.com' }, 'PUBLIC_URL must use http: or https:'],
    [{ PUBLIC_URL: 'https://a.example.com/?x=1' }, 'PUBLIC_URL must not have a query'],
    [{ MEDIA_REGIONS: 'us002,in002' }, 'MEDIA_REGIONS must be a JSON object'],
    [{ MEDIA_REGIONS: '{}' }, 'MEDIA_REGIONS must name at least one region'],
    [{ MEDIA_REGIONS: '{"US 1": {"ingestUrl": "wss://x", "claimsTable": "t", "recordingsBucket": "b"}}' }, 'MEDIA_REGIONS has an invalid region id "US 1"'],
    [{ MEDIA_REGIONS: '{"us002": {"claimsTable": "t", "recordingsBucket": "b"}}' }, 'MEDIA_REGIONS.us002.ingestUrl is required'],
    [{ MEDIA_REGIONS: '{"us002": {"ingestUrl": "https://x", "claimsTable": "t", "recordingsBucket": "b"}}' }, 'MEDIA_REGIONS.us002.ingestUrl must use wss: or ws:'],
    [{ MEDIA_REGIONS: '{"us002": {"ingestUrl": "wss://x"}}' }, 'MEDIA_REGIONS.us002.claimsTable is required'],
    [{ HOME_MEDIA_REGION: 'eu001' }, 'HOME_MEDIA_REGION must be one of us002, in002'],
    [{ COUNTRY_REGIONS: 'india=in002' }, 'COUNTRY_REGIONS has an invalid country code "india"'],
    [{ COUNTRY_REGIONS: 'IN=eu001' }, 'COUNTRY_REGIONS maps IN to unknown region "eu001"'],
    [{ CLAIM_TTL_SECONDS: '0' }, 'CLAIM_TTL_SECONDS must be a positive integer'],
    [{ CALL_RETENTION_DAYS: 'a month' }, 'CALL_RETENTION_DAYS must be a positive integer'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be debug, info, warn or error'],
    [{ DYNAMODB_ENDPOINT: 'localhost:8000' }, 'DYNAMODB_ENDPOINT must use http: or https:'],
    [{ KMS_ENDPOINT: 'not a url' }, 'KMS_ENDPOINT must be an absolute URL'],
    [{ WEBHOOK_RETRY_DELAYS: '60,soon' }, 'WEBHOOK_RETRY_DELAYS must be up to 8 comma-separated whole seconds'],
    [{ WEBHOOK_RETRY_DELAYS: '1,1,1,1,1,1,1,1,1' }, 'WEBHOOK_RETRY_DELAYS must be up to 8 comma-separated whole seconds'],
    [{ WEBHOOK_RETRY_DELAYS: '50000' }, 'WEBHOOK_RETRY_DELAYS must be up to 8 comma-separated whole seconds'],
    [{ WEBHOOK_QUEUE_URL: 'sqs-queue' }, 'WEBHOOK_QUEUE_URL must be an absolute URL'],
    [{ WEBHOOK_REDRIVE_AFTER_SECONDS: '0' }, 'WEBHOOK_REDRIVE_AFTER_SECONDS must be a positive integer'],
    [{ TENANT_RATE_LIMIT: '-1' }, 'TENANT_RATE_LIMIT must be a whole number 0-100000, got "-1"'],
    [{ PLIVO_SOURCE_RANGES: '18.214.109.128/25,10.0.0.1' }, 'PLIVO_SOURCE_RANGES: "10.0.0.1" is not a CIDR range'],
    [{ TENANT_RATE_LIMIT: '2.5' }, 'TENANT_RATE_LIMIT must be a whole number 0-100000'],
    [{ TENANT_RATE_LIMIT: 'lots' }, 'TENANT_RATE_LIMIT must be a whole number 0-100000'],
  ])('refuses %j: %s', (override, message) => {
    expect(() => loadControlPlaneConfig({ ...valid, ...override })).toThrow(message);
  });
});

describe("npm start's Plivo Voice API", () => {
  const endpoints = { dynamodbEndpoint: 'http://127.0.0.1:1', kmsEndpoint: 'http://127.0.0.1:2', sqsEndpoint: 'http://127.0.0.1:3', s3Endpoint: 'http://127.0.0.1:5' };
  const queues = { queueUrl: 'http://127.0.0.1:3/q', deadLetterQueueUrl: 'http://127.0.0.1:3/dlq' };
  const emulator = 'http://127.0.0.1:4010';

  it('passes RECORDING_URL_SECONDS to the API, MAX_RECORDINGS and RECORDING_SEGMENT_SECONDS to the media servers when set', () => {
    const control = localControlPlaneEnv({ RECORDING_URL_SECONDS: '120' }, endpoints, queues, 'http://127.0.0.1:8080');
    expect(localControlPlaneConfig(control).recordingUrlSeconds).toBe(120);
    expect(localMediaEnv({ MAX_RECORDINGS: '3', RECORDING_SEGMENT_SECONDS: '4' }, control, 'us002')).toMatchObject({ MAX_RECORDINGS: '3', RECORDING_SEGMENT_SECONDS: '4' });
    expect(localMediaEnv({}, control, 'us002').RECORDING_SEGMENT_SECONDS).toBeUndefined();
  });

  it('is the emulator for the API and the media servers, unless the environment sets PLIVO_API_URL', () => {
    const emulated = localControlPlaneEnv({}, endpoints, queues, 'http://127.0.0.1:8080', emulator);
    expect(localControlPlaneConfig(emulated).plivoApiUrl).toBe(emulator);
    expect(localMediaEnv({}, emulated, 'us002').PLIVO_API_URL).toBe(emulator);
    const chosen = localControlPlaneEnv({ PLIVO_API_URL: 'https://api.plivo.com' }, endpoints, queues, 'http://127.0.0.1:8080', emulator);
    expect(localControlPlaneConfig(chosen).plivoApiUrl).toBe('https://api.plivo.com');
    expect(localMediaEnv({}, chosen, 'us002').PLIVO_API_URL).toBe('https://api.plivo.com');
  });
});

describe('one environment parser for the Lambdas, the media server and npm start', () => {
  const media = { ...valid, WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q', RELAY_HOST: '10.0.0.1' };

  it('words a bad number alike in every entry point: NAME must be <what>, got "<value>"', () => {
    for (const [load, message] of [
      [() => loadControlPlaneConfig({ ...valid, CLAIM_TTL_SECONDS: 'soon' }), 'CLAIM_TTL_SECONDS must be a positive integer, got "soon"'],
      [() => loadLocalConfig({ API_RATE_LIMIT: '0' }), 'API_RATE_LIMIT must be a positive integer, got "0"'],
      [() => loadMediaConfig({ ...media, PLACEMENT_LEASE_SECONDS: '1.5' }), 'PLACEMENT_LEASE_SECONDS must be a whole number 3-300, got "1.5"'],
      [() => loadLocalConfig({ MEDIA_SERVERS: '9' }), 'MEDIA_SERVERS must be a whole number 1-8, got "9"'],
      [() => loadLocalConfig({ SWEEP_INTERVAL_SECONDS: '0' }), 'SWEEP_INTERVAL_SECONDS must be a whole number 1-60, got "0"'],
      [() => loadLocalConfig({ EDGE_API_RATE_LIMIT: '5' }), 'EDGE_API_RATE_LIMIT must be a whole number 10-2000000000, got "5"'],
      [() => loadLocalConfig({ PORT: '70000' }), 'PORT must be 0-65535 (0: any free port), got "70000"'],
      [() => loadMediaConfig({ ...media, RELAY_PORT: '-1' }), 'RELAY_PORT must be 0-65535 (0: any free port), got "-1"'],
    ] as const) {
      expect(load).toThrow(new ConfigError(message));
    }
  });

  it("reads a recording segment's seconds (RECORDING_SEGMENT_SECONDS), 20 by default, 1-25: a crash loses less than 30 s", () => {
    expect(loadMediaConfig(media).recordingSegmentSeconds).toBe(20);
    expect(loadMediaConfig({ ...media, RECORDING_SEGMENT_SECONDS: ' 4 ' }).recordingSegmentSeconds).toBe(4);
    expect(loadMediaConfig({ ...media, RECORDING_SEGMENT_SECONDS: '25' }).recordingSegmentSeconds).toBe(25);
    for (const bad of ['0', '26', '1.5', 'ten']) {
      expect(() => loadMediaConfig({ ...media, RECORDING_SEGMENT_SECONDS: bad })).toThrow(new ConfigError(`RECORDING_SEGMENT_SECONDS must be a whole number 1-25, got "${bad}"`));
    }
  });

  it("reads the console's API URL, an http(s) URL, null when unset", () => {
    expect(loadMediaConfig(media).consoleApiUrl).toBeNull();
    expect(loadMediaConfig({ ...media, CONSOLE_API_URL: ' https://api.example.com ' }).consoleApiUrl).toBe('https://api.example.com');
    expect(() => loadMediaConfig({ ...media, CONSOLE_API_URL: 'api.example.com' })).toThrow(ConfigError);
  });

  it('refuses a boolean that is neither true nor false, instead of reading it as false', () => {
    expect(() => loadMediaConfig({ ...media, ALLOW_PRIVATE_TARGETS: 'yes' })).toThrow(new ConfigError('ALLOW_PRIVATE_TARGETS must be true or false, got "yes"'));
    expect(() => loadLocalConfig({ API_EDGE: 'off' })).toThrow(new ConfigError('API_EDGE must be true or false, got "off"'));
    expect(loadMediaConfig({ ...media, ALLOW_PRIVATE_TARGETS: ' true ' }).allowPrivateTargets).toBe(true);
    expect(loadLocalConfig({ API_EDGE: 'false' }).edge).toBeNull();
  });

  it('reads blank values as unset, alike everywhere', () => {
    expect(loadLocalConfig({ PORT: ' ', MEDIA_SERVERS: '', API_RATE_LIMIT: ' ' })).toMatchObject({ port: 8080, mediaServers: 1, sweepIntervalSeconds: 5, throttles: { api: { rateLimit: 100 } } });
    expect(loadMediaConfig({ ...media, PORT: '', DRAIN_TIMEOUT_SECONDS: ' ' })).toMatchObject({ port: 8080, drainTimeoutSeconds: 110 });
  });
});
