import { Match, Template } from 'aws-cdk-lib/assertions';
import { Keys } from '../../lib/constructs/keys';
import { testStack } from './helpers';

function keysTemplate(): Template {
  const stack = testStack();
  new Keys(stack, 'Keys');
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
