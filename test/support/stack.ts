import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken, type Permission } from '../../core/auth';
import { dynamoClient, kmsClient } from '../../core/aws';
import { createLogger } from '../../core/log';
import { SecretBox } from '../../core/secret-box';
import { TenantStore } from '../../core/tenants';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { startLocalStack, type LocalStack } from '../../local/stack';

/** Collects log lines in memory, so tests can assert what was (and was not) logged. */
export function memoryLog() {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', {}, (line) => lines.push(line)) };
}

/** The edge's per-source limits at WAF's maximum: for tests and benchmarks that send faster than one address may. */
export const EDGE_LIMITS_LIFTED = { EDGE_HOOKS_RATE_LIMIT: '2000000000', EDGE_API_RATE_LIMIT: '2000000000' } as const;

export interface TestStack {
  readonly stack: LocalStack;
  readonly logLines: string[];
  /** The tenant's API secret, creating the tenant on first use. */
  secret(apikey: string): Promise<string>;
  token(apikey: string, options?: { permissions?: Permission[]; ttlSeconds?: number }): Promise<string>;
  /** fetch against the API with a JSON body and optional token. */
  api(method: string, path: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestStack(env: Record<string, string> = {}): Promise<TestStack> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'plivo-connector-'));
  const { lines, logger } = memoryLog();
  // The per-tenant API rate limit and the edge's per-source limits are lifted unless a test sets them
  // (test/api/rate-limit.test.ts, test/e2e/edge-flood.test.ts do): tests call the API from one address back to back,
  // far faster than their defaults allow.
  const stack = await startLocalStack(
    { PORT: '0', LOG_LEVEL: 'debug', TENANT_RATE_LIMIT: '0', ...EDGE_LIMITS_LIFTED, ...env, DATA_DIR: dataDir },
    logger,
  );
  const aws = { region: 'us-east-1', dynamodbEndpoint: stack.aws.dynamodbEndpoint, kmsEndpoint: stack.aws.kmsEndpoint };
  const dynamo = dynamoClient(aws);
  const tenants = new TenantStore(dynamo, LOCAL_TABLE_NAME, new SecretBox(kmsClient(aws), LOCAL_KMS_KEY_ID));
  return {
    stack,
    logLines: lines,
    secret: (apikey) => tenants.ensureSecret(apikey),
    token: async (apikey, options = {}) =>
      mintToken(await tenants.ensureSecret(apikey), {
        apikey,
        ttlSeconds: options.ttlSeconds ?? 3600,
        ...(options.permissions && { permissions: options.permissions }),
      }),
    api: (method, path, options = {}) =>
      fetch(stack.apiUrl + path, {
        method,
        headers: {
          ...(options.token && { authorization: `Bearer ${options.token}` }),
          ...(options.body !== undefined && { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body !== undefined && { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }),
      }),
    close: async () => {
      dynamo.destroy();
      await stack.close();
      if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A response's JSON body, as the type the test expects. */
export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** A numbered list's body (`/v2/sip/…`, `/v2/agents`). */
export interface NumberedList<T> {
  data: T[];
  pageInfo: { currentPage: number; perPage: number; lastPage: number; total: number };
}

/**
 * One stack for a test file, started before its tests and closed after them, with a token for each tenant named:
 * read `t` and `tokens` inside tests (they are set in `beforeAll`).
 */
export function stackForFile<const N extends string>(...tenants: N[]): { readonly t: TestStack; readonly tokens: Readonly<Record<N, string>> } {
  const file = { t: undefined as unknown as TestStack, tokens: {} as Record<N, string> };
  beforeAll(async () => {
    file.t = await startTestStack();
    for (const tenant of tenants) file.tokens[tenant] = await file.t.token(tenant);
  });
  afterAll(() => file.t.close());
  return file;
}
