import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildControlPlaneApp, CONTROL_PLANE_STACK_NAME } from '../../lib/control-plane-app';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { startTestStack } from '../support/stack';
import { capturingReport, CDK_JSON_CONTEXT, testApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const certificateIn = (awsRegion: string) => CERTIFICATE_ARN.replace('us-east-1', awsRegion);

/** cdk.json's regions, each with its own ingest domain. */
const REGIONS_WITH_DOMAINS = {
  us002: { awsRegion: 'us-east-1', domainName: 'media-us.example.com', certificateArn: certificateIn('us-east-1') },
  in002: { awsRegion: 'ap-south-1', domainName: 'media-in.example.com', certificateArn: certificateIn('ap-south-1') },
};

/**
 * Every finding of the AWS Solutions pack, errors and warnings alike, that no acknowledgement covers. Only cdk-nag's
 * own findings: synth-time annotations such as the ingest URL warning are not rule violations and do not count.
 */
function unacknowledgedFindings(app: App): { findings: string[]; report: string } {
  const { report } = capturingReport(() => app.synth()); // lets synth-time aspects add their resources first
  const findings = new AwsSolutionsChecks()
    .validateScope(app)
    .violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}: ${v.description}`),
    );
  return { findings, report };
}

describe('stack placement', () => {
  test('puts the control plane in the home media region', () => {
    const { controlPlane } = buildControlPlaneApp(testApp());
    expect(controlPlane.stackName).toBe(CONTROL_PLANE_STACK_NAME);
    expect(controlPlane.region).toBe('us-east-1');
  });

  test('follows homeMediaRegion to another AWS region', () => {
    const { controlPlane } = buildControlPlaneApp(testApp({ homeMediaRegion: 'in002' }));
    expect(controlPlane.region).toBe('ap-south-1');
  });

  test("adds one stack per media region, named after it, in that region's AWS region", () => {
    const { mediaRegions } = buildControlPlaneApp(testApp());
    expect(mediaRegions.map((stack) => [stack.stackName, stack.region])).toEqual([
      ['PlivoConnector-Media-us002', 'us-east-1'],
      ['PlivoConnector-Media-in002', 'ap-south-1'],
    ]);
  });

  test('each media region stack holds its deterministically named table', () => {
    const { mediaRegions } = buildControlPlaneApp(testApp({ mediaRegions: REGIONS_WITH_DOMAINS }));
    for (const [stack, id] of [
      [mediaRegions[0]!, 'us002'],
      [mediaRegions[1]!, 'in002'],
    ] as const) {
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: `plivo-connector-${id}-media`,
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
    }
  });

  test('follows the mediaRegions context, one stack for each region', () => {
    const { mediaRegions } = buildControlPlaneApp(
      testApp({
        mediaRegions: { eu001: { awsRegion: 'eu-west-1' } },
        homeMediaRegion: 'eu001',
        countryRegions: {},
      }),
    );
    expect(mediaRegions.map((stack) => [stack.stackName, stack.region])).toEqual([
      ['PlivoConnector-Media-eu001', 'eu-west-1'],
    ]);
  });

  test('the control plane deploys after the media regions, without referring into them', () => {
    const { controlPlane, mediaRegions } = buildControlPlaneApp(testApp());
    expect(controlPlane.dependencies).toEqual(expect.arrayContaining([...mediaRegions]));
    expect(controlPlane.dependencies).toHaveLength(mediaRegions.length);
    for (const stack of mediaRegions) expect(stack.dependencies).toEqual([]);
  });

  test("the answer function's claims tables are the media region stacks' tables", () => {
    const { controlPlane, mediaRegions } = buildControlPlaneApp(testApp({ mediaRegions: REGIONS_WITH_DOMAINS }));
    const answerFunctions = Template.fromStack(controlPlane).findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('Answer URL') },
    });
    type LambdaFunction = { Properties: { Environment: { Variables: Record<string, string> } } };
    const [answer] = Object.values(answerFunctions) as LambdaFunction[];
    const regions = JSON.parse(answer!.Properties.Environment.Variables.MEDIA_REGIONS!) as Record<
      string,
      { claimsTable: string }
    >;
    expect(Object.values(regions).map((r) => r.claimsTable)).toEqual(
      mediaRegions.map((stack) => stack.regionTable.tableName),
    );
  });

  test('fails on invalid context before building anything', () => {
    const app = testApp({ homeMediaRegion: 'xx999' });
    expect(() => buildControlPlaneApp(app)).toThrow(/"homeMediaRegion" must name one of the mediaRegions/);
    expect(app.node.children).toHaveLength(0);
  });

  test('fails on invalid countryRegions before building anything', () => {
    const app = testApp({ countryRegions: { IN: 'in001' } });
    expect(() => buildControlPlaneApp(app)).toThrow(/"countryRegions.IN" must name one of the mediaRegions/);
    expect(app.node.children).toHaveLength(0);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('no unacknowledged error or warning, with the ingest URL warnings of cdk.json (no domains)', () => {
    const app = testApp();
    buildControlPlaneApp(app);
    const { findings, report } = unacknowledgedFindings(app);
    expect(findings).toEqual([]);
    expect(report).toMatch(/plivo-connector:ingest-url/);
  });

  test('no unacknowledged error or warning with media region domains and a custom API domain', () => {
    const app = testApp({
      mediaRegions: REGIONS_WITH_DOMAINS,
      apiDomainName: 'api.example.com',
      apiCertificateArn: CERTIFICATE_ARN,
    });
    buildControlPlaneApp(app);
    const { findings, report } = unacknowledgedFindings(app);
    expect(findings).toEqual([]);
    expect(report).toBe('');
  });

  test('runs at synth and fails it on an error', () => {
    const app = testApp({ mediaRegions: REGIONS_WITH_DOMAINS });
    new Queue(buildControlPlaneApp(app).controlPlane, 'QueueWithoutTls', { enforceSSL: false });
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
      `${stack}/AnswerFunction/Function AwsSolutions-L1`,
      `${stack}/AnswerFunction/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/AnswerFunction/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/AnswerFunction/Role AwsSolutions-IAM5[Resource::*]`,
      `${stack}/Api/HttpApi AwsSolutions-APIG4`,
      `${stack}/ApiFunction/Function AwsSolutions-L1`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Resource::*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Resource::<DataTableFDBAD0F2.Arn>/index/*]`,
      `${stack}/Sweeper/Worker/Function AwsSolutions-L1`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Resource::*]`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Resource::<DataTableFDBAD0F2.Arn>/index/*]`,
      `${stack}/WebhookDelivery/Worker/Function AwsSolutions-L1`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Resource::*]`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Resource::<DataTableFDBAD0F2.Arn>/index/*]`,
    ]);
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(80);
  });
});

test('synth bundles the API handler with the local esbuild, and the bundle serves requests', async () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'control-plane-'));
  const local = await startTestStack();
  try {
    const app = new App({ outdir, context: CDK_JSON_CONTEXT });
    const { controlPlane } = buildControlPlaneApp(app);
    capturingReport(() => app.synth()); // cdk.json has no ingest domains: a warning report we need not see
    // One bundle per function (HTTP ones, delivery worker, sweeper); the API's is the one its Lambda's code points at.
    const assets = fs.readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(controlPlane.allFunctions.length);
    const template = JSON.parse(fs.readFileSync(path.join(outdir, controlPlane.templateFile), 'utf8')) as {
      Resources: Record<string, { Properties: { Code: { S3Key: string } } }>;
    };
    const apiFunctionId = controlPlane.getLogicalId(controlPlane.apiFunction.function.node.defaultChild as CfnElement);
    const assetHash = template.Resources[apiFunctionId]!.Properties.Code.S3Key.replace(/\.zip$/, '');
    const bundle = path.join(outdir, `asset.${assetHash}`);
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
        MEDIA_REGIONS: JSON.stringify({
          us002: { ingestUrl: 'wss://media.example.com', claimsTable: 'plivo-connector' },
        }),
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
