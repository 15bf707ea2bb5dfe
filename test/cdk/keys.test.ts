import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import { Keys, type KeysProps } from '../../lib/constructs/keys';
import { testStack } from './helpers';

function keysTemplate(props?: KeysProps): Template {
  const stack = testStack();
  new Keys(stack, 'Keys', props);
  return Template.fromStack(stack);
}

test('creates the table key, the data key and the webhook signing key', () => {
  keysTemplate().resourceCountIs('AWS::KMS::Key', 3);
});

test('both symmetric keys rotate automatically', () => {
  keysTemplate().resourcePropertiesCountIs(
    'AWS::KMS::Key',
    { EnableKeyRotation: true, KeySpec: Match.absent(), KeyUsage: Match.absent() },
    2,
  );
});

test('the webhook signing key is RSA_2048 for SIGN_VERIFY', () => {
  keysTemplate().hasResourceProperties('AWS::KMS::Key', { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
});

test('keys are retained when the stack is deleted', () => {
  const keys = Object.values(keysTemplate().findResources('AWS::KMS::Key'));
  expect(keys).toHaveLength(3);
  for (const key of keys) expect(key).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
});

test('has no aliases by default', () => {
  keysTemplate().resourceCountIs('AWS::KMS::Alias', 0);
});

test('gives the data key and the table key their aliases, the signing key none', () => {
  const stack = testStack();
  const keys = new Keys(stack, 'Keys', { dataKeyAlias: 'alias/test-data', tableKeyAlias: 'alias/test-table' });
  const template = Template.fromStack(stack);
  const arnOf = (key: typeof keys.dataKey) => ({
    'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as CfnElement), 'Arn'],
  });
  template.resourceCountIs('AWS::KMS::Alias', 2);
  template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/test-data', TargetKeyId: arnOf(keys.dataKey) });
  template.hasResourceProperties('AWS::KMS::Alias', {
    AliasName: 'alias/test-table',
    TargetKeyId: arnOf(keys.tableKey),
  });
});

test('takes one alias without the other', () => {
  const template = keysTemplate({ dataKeyAlias: 'alias/test-data' });
  template.resourceCountIs('AWS::KMS::Alias', 1);
  template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/test-data' });
});

test.each(['plivo-connector-data', 'alias/aws/dynamodb', 'alias/', 'alias/with space'])(
  'rejects the alias %p',
  (alias) => {
    expect(() => keysTemplate({ dataKeyAlias: alias })).toThrow(/dataKeyAlias must be "alias\/" followed by/);
  },
);
