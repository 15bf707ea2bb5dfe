import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildControlPlaneApp, CONTROL_PLANE_STACK_NAME } from '../../lib/control-plane-app';
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

test('synth bundles the API handler with the local esbuild', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'control-plane-'));
  try {
    const app = new App({ outdir, context: CDK_JSON_CONTEXT });
    buildControlPlaneApp(app);
    app.synth();
    const assets = fs.readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    expect(fs.readdirSync(path.join(outdir, assets[0]!)).sort()).toEqual(['index.js', 'index.js.map']);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
