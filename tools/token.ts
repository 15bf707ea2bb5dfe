import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_TOKEN_LIFETIME_SECONDS, mintToken, PERMISSIONS, type Permission } from '../core/auth';
import { dynamoClient, kmsClient } from '../core/aws';
import { loadAwsClientConfig } from '../core/config';
import { SecretBox } from '../core/secret-box';
import { TenantStore } from '../core/tenants';
import { ensureControlTable, LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME, startLocalAws, type LocalAws } from '../local/aws';
import { DEMO_TENANT } from '../local/stack';
import { readLocalState } from '../local/state';

const USAGE = `Mints an API token (HS256 JWT) for a tenant, creating the tenant's secret on first use.

  npm run token -- [--apikey NAME] [--ttl 24h] [--permissions allow_join,allow_mod]

Local mode (default): uses the local stack's data in DATA_DIR (default .data), the one \`npm start\` runs
with, whether or not \`npm start\` is running there now, once it has run there. AWS mode: set TABLE_NAME and
KMS_KEY_ID (the control-plane stack's outputs) and AWS credentials. The token alone goes to stdout; which store
it is for, to stderr.`;

export function parseTtl(value: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match?.[2] ?? ''];
  const seconds = match && unit ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new Error(`--ttl must be a positive duration up to 24h (the API refuses longer-lived tokens), like 3600, 30m or 24h; got "${value}"`);
  }
  return seconds;
}

function parsePermissions(value: string): Permission[] {
  const list = value.split(',').map((p) => p.trim());
  for (const p of list) {
    if (!(PERMISSIONS as readonly string[]).includes(p)) throw new Error(`Unknown permission "${p}"; use ${PERMISSIONS.join(', ')}`);
  }
  return list as Permission[];
}

/**
 * The local stack's stand-ins while `npm start` runs on `DATA_DIR`, else our own on its data; `running` says which.
 * A `DATA_DIR` where npm start never ran is refused (readLocalState names it): a token for another store is useless.
 */
async function localAws(): Promise<Pick<LocalAws, 'dynamodbEndpoint' | 'kmsEndpoint' | 'close'> & { dataDir: string; running: boolean }> {
  const { dataDir, info } = readLocalState(process.env);
  try {
    const res = await fetch(info.aws.dynamodbEndpoint, { signal: AbortSignal.timeout(500) });
    await res.arrayBuffer();
    return { ...info.aws, dataDir, running: true, close: () => Promise.resolve() };
  } catch {
    return { ...(await startLocalAws(dataDir, join(dataDir, 'kms'))), dataDir, running: false };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      apikey: { type: 'string', default: DEMO_TENANT },
      ttl: { type: 'string', default: '24h' },
      permissions: { type: 'string', default: PERMISSIONS.join(',') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stderr.write(USAGE + '\n');
    return;
  }
  const ttlSeconds = parseTtl(values.ttl);
  const permissions = parsePermissions(values.permissions);
  const inAws = Boolean(process.env.TABLE_NAME);
  const local = inAws ? undefined : await localAws();
  try {
    const aws = loadAwsClientConfig(local ? { ...process.env, DYNAMODB_ENDPOINT: local.dynamodbEndpoint, KMS_ENDPOINT: local.kmsEndpoint } : process.env);
    const tableName = local ? LOCAL_TABLE_NAME : (process.env.TABLE_NAME as string);
    const keyId = local ? LOCAL_KMS_KEY_ID : process.env.KMS_KEY_ID;
    if (!keyId) throw new Error('KMS_KEY_ID is required with TABLE_NAME');
    const dynamo = dynamoClient(aws);
    if (local) await ensureControlTable(dynamo, tableName);
    const tenants = new TenantStore(dynamo, tableName, new SecretBox(kmsClient(aws), keyId));
    const secret = await tenants.ensureSecret(values.apikey);
    process.stdout.write((await mintToken(secret, { apikey: values.apikey, permissions, ttlSeconds })) + '\n');
    // On stderr, so `$(npm run -s token)` takes the token alone: which store the token is for.
    if (local) process.stderr.write(`token for tenant "${values.apikey}" of the local stack in ${local.dataDir} (DATA_DIR${local.running ? '' : '; npm start is not running there'})\n`);
    dynamo.destroy();
  } finally {
    await local?.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
  process.exit(2);
});
