import { Template } from 'aws-cdk-lib/assertions';
import { MediaRegionStack, mediaRegionStackName } from '../../lib/media-region-stack';
import { testApp } from './helpers';

function build(): { stack: MediaRegionStack; template: Template } {
  const stack = new MediaRegionStack(testApp(), mediaRegionStackName('in002'), {
    env: { region: 'ap-south-1' },
    regionId: 'in002',
  });
  return { stack, template: Template.fromStack(stack) };
}

test('is named after its region and lives in its AWS region', () => {
  const { stack } = build();
  expect(stack.stackName).toBe('PlivoConnector-Media-in002');
  expect(stack.region).toBe('ap-south-1');
});

test("holds the region's table and nothing else yet", () => {
  const { template } = build();
  template.resourceCountIs('AWS::DynamoDB::Table', 1);
  expect(Object.keys(template.toJSON().Resources as object)).toHaveLength(1);
  template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'plivo-connector-in002-media' });
});

test('outputs the table name', () => {
  build().template.hasOutput('TableName', { Value: 'plivo-connector-in002-media' });
});
