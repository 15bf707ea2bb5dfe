import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildControlPlaneApp, CONTROL_PLANE_STACK_NAME } from '../../lib/control-plane-app';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { startTestStack } from '../support/stack';
import { CDK_JSON_CONTEXT, testApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

/** Every finding of the AWS Solutions pack, errors and warnings alike, that no acknowledgement covers. */
function unacknowledgedFindings(app: App): string[] {
  app.synth(); // lets synth-time aspects add their resources first
  return new AwsSolutionsChecks()
    .validateScope(app)
    .violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}: ${v.description}`),
    );
}

describe('stack placement', () => {
  test('puts the control plane in the home media region', () => {
    const stack = buildControlPlaneApp(testApp());
    expect(stack.stackName).toBe(CONTROL_PLANE_STACK_NAME);
    expect(stack.region).toBe('us-east-1');
  });

  test('follows homeMediaRegion to another AWS region', () => {
    const stack = buildControlPlaneApp(testApp({ homeMediaRegion: 'in002' }));
    expect(stack.region).toBe('ap-south-1');
  });

  test('fails on invalid context before building anything', () => {
    const app = testApp({ homeMediaRegion: 'xx999' });
    expect(() => buildControlPlaneApp(app)).toThrow(/"homeMediaRegion" must name one of the mediaRegions/);
    expect(app.node.children).toHaveLength(0);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('no unacknowledged error or warning', () => {
    const app = testApp();
    buildControlPlaneApp(app);
    expect(unacknowledgedFindings(app)).toEqual([]);
  });

  test('no unacknowledged error or warning with a custom API domain', () => {
    const app = testApp({ apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN });
    buildControlPlaneApp(app);
    expect(unacknowledgedFindings(app)).toEqual([]);
  });

  test('runs at synth and fails it on an error', () => {
    const app = testApp();
    new Queue(buildControlPlaneApp(app), 'QueueWithoutTls', { enforceSSL: false });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  test('acknowledges only these findings, each on the construct it concerns and with its reason', () => {
    const app = testApp();
    buildControlPlaneApp(app);
    const acknowledged = app.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
        .map(([id, reason]) => ({ at: construct.node.path, id: id.replace(/^annotation::/i, ''), reason })),
    );
    const stack = CONTROL_PLANE_STACK_NAME;
    expect(acknowledged.map(({ at, id }) => `${at} ${id}`).sort()).toEqual([
      `${stack}/Api/HttpApi AwsSolutions-APIG4`,
      `${stack}/ApiFunction/Function AwsSolutions-L1`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Resource::*]`,
    ]);
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(80);
  });
});

test('synth bundles the API handler with the local esbuild, and the bundle serves requests', async () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'control-plane-'));
  const local = await startTestStack();
  try {
    const app = new App({ outdir, context: CDK_JSON_CONTEXT });
    buildControlPlaneApp(app);
    app.synth();
    const assets = fs.readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const bundle = path.join(outdir, assets[0]!);
    expect(fs.readdirSync(bundle).sort()).toEqual(['index.js', 'index.js.map']);

    // Run the deployable artifact as Lambda would (module scope reads env, then handler(event)),
    // against the local stand-ins, outside this repo's node_modules.
    const token = await local.token('bundle-tenant');
    const event = {
      version: '2.0',
      rawPath: '/v2/connectors',
      rawQueryString: '',
      headers: { authorization: `Bearer ${token}` },
      requestContext: { http: { method: 'GET', path: '/v2/connectors' }, requestId: 'r1' },
      isBase64Encoded: false,
    };
    // Exit explicitly: the SDK's keep-alive sockets would hold the process open, as they do in Lambda.
    const script = `require('./index.js').handler(${JSON.stringify(event)}).then((r) => { process.stdout.write('RESULT ' + JSON.stringify(r)); process.exit(0); })`;
    // Asynchronously: the stand-ins run in this process and must keep answering meanwhile.
    const out = await promisify(execFile)(process.execPath, ['-e', script], {
      cwd: bundle,
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        PATH: process.env.PATH,
        TABLE_NAME: LOCAL_TABLE_NAME,
        KMS_KEY_ID: LOCAL_KMS_KEY_ID,
        PUBLIC_URL: 'https://api.example.com',
        MEDIA_REGIONS: 'us002',
        DYNAMODB_ENDPOINT: local.stack.aws.dynamodbEndpoint,
        KMS_ENDPOINT: local.stack.aws.kmsEndpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    expect(out.stderr).not.toMatch(/Error/);
    const [logs = '', resultJson = ''] = out.stdout.split('RESULT ');
    // The handler's structured request log, as CloudWatch would receive it.
    expect(JSON.parse(logs.trim().split('\n').pop()!)).toMatchObject({ level: 'info', msg: 'request', status: 200, tenant: 'bundle-tenant' });
    const result = JSON.parse(resultJson) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ data: [], pageInfo: { limit: 20, nextCursor: null } });
  } finally {
    await local.close();
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
