import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildControlPlaneApp } from '../../lib/control-plane-app';
import { DEPLOYMENT_CONTEXT_KEYS, type DeploymentContext } from '../../lib/config';
import { PlivoConnector } from '../../lib/plivo-connector';
import { CDK_JSON_CONTEXT, testApp, validatedApp } from './helpers';

const EXAMPLE_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.context.example.json'), 'utf8')) as DeploymentContext;
/** cdk.json's deployment settings (its other keys are feature flags), as props. */
const CDK_JSON_PROPS = Object.fromEntries(DEPLOYMENT_CONTEXT_KEYS.filter((key) => key in CDK_JSON_CONTEXT).map((key) => [key, CDK_JSON_CONTEXT[key]])) as unknown as DeploymentContext;

const stacksOf = (connector: PlivoConnector): Stack[] => [...(connector.edge ? [connector.edge] : []), connector.controlPlane, ...connector.mediaRegions];

describe('PlivoConnector', () => {
  test("from props yields the stacks bin/app.ts deploys from cdk.json's context: the same names, regions and templates", () => {
    const fromContext = buildControlPlaneApp(testApp());
    const fromProps = new PlivoConnector(testApp(), 'PlivoConnector', CDK_JSON_PROPS);
    const describe = (connector: PlivoConnector) => stacksOf(connector).map((stack) => [stack.stackName, stack.region]);
    expect(describe(fromContext)).toEqual([
      ['PlivoConnector-Edge', 'us-east-1'],
      ['PlivoConnector-ControlPlane', 'us-east-1'],
      ['PlivoConnector-Media-us002', 'us-east-1'],
      ['PlivoConnector-Media-in002', 'ap-south-1'],
    ]);
    expect(describe(fromProps)).toEqual(describe(fromContext));
    // Beside the construct, not under it: a stack's path names some of its resources (tags, SG rules' logical ids),
    // so these paths keep a deployment made before the construct updating in place.
    expect(stacksOf(fromProps).map((stack) => stack.node.path)).toEqual(describe(fromContext).map(([name]) => name));
    const contextStacks = stacksOf(fromContext);
    stacksOf(fromProps).forEach((stack, i) => {
      expect(Template.fromStack(stack).toJSON()).toEqual(Template.fromStack(contextStacks[i]!).toJSON());
    });
  });

  test("sits in a user's app beside the user's own stacks, its stacks keeping their names whatever its id", () => {
    // Without cdk.json's validateAgainstDefaultRules, CloudFormation's rules would only warn: not worth their engine here.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    new Stack(app, 'MyApp');
    const connector = new PlivoConnector(app, 'Voice', {
      mediaRegions: { eu001: { awsRegion: 'eu-west-1' } },
      homeMediaRegion: 'eu001',
      apiEdge: false,
      account: '123456789012',
    });
    expect(connector.edge).toBeUndefined();
    const names = app.synth().stacks.map((stack) => [stack.stackName, stack.environment.account, stack.environment.region]);
    expect(names.sort()).toEqual([
      ['MyApp', 'unknown-account', 'unknown-region'],
      ['PlivoConnector-ControlPlane', '123456789012', 'eu-west-1'],
      ['PlivoConnector-Media-eu001', '123456789012', 'eu-west-1'],
    ]);
  });

  test('goes in an App or a Stage only, whose children its stacks are', () => {
    const app = testApp();
    expect(() => new PlivoConnector(new Stack(app, 'Holder'), 'PlivoConnector', CDK_JSON_PROPS)).toThrow(/goes directly in an App or a Stage/);
  });

  test('refuses props the context would refuse, naming the key and a fix, before adding anything', () => {
    const build = (props: DeploymentContext) => () => new PlivoConnector(testApp(), 'PlivoConnector', props);
    expect(build({ mediaRegions: { us002: { awsRegion: 'us-east-1' } }, homeMediaRegion: 'eu001' })).toThrow(/"homeMediaRegion" must name one of the mediaRegions \(us002\)/);
    expect(build({ mediaRegions: {}, homeMediaRegion: 'us002' })).toThrow(/"mediaRegions" must be a non-empty object/);
    expect(build({ ...CDK_JSON_PROPS, apiEdge: false, edgeRateLimits: { api: 100 } })).toThrow(/"edgeRateLimits" needs the edge/);
    const app = testApp();
    expect(() => new PlivoConnector(app, 'PlivoConnector', { ...CDK_JSON_PROPS, plivoApiUrl: 'http://api.plivo.com' })).toThrow(/"plivoApiUrl" must be an https URL/);
    expect(app.node.children).toHaveLength(0);
  });

  test('cdk.context.example.json shows every context key, and deploys as written', () => {
    expect(Object.keys(EXAMPLE_CONTEXT).sort()).toEqual([...DEPLOYMENT_CONTEXT_KEYS].sort());
    const connector = PlivoConnector.fromContext(validatedApp(EXAMPLE_CONTEXT as unknown as Record<string, unknown>), 'PlivoConnector');
    expect(stacksOf(connector).map((stack) => stack.stackName)).toEqual(['PlivoConnector-Edge', 'PlivoConnector-ControlPlane', 'PlivoConnector-Media-us002', 'PlivoConnector-Media-in002']);
    Template.fromStack(connector.controlPlane).hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: { Aliases: ['api.example.com'] },
    });
  });
});
