import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The id cdk-nag's AwsSolutions-IAM5 gives a wildcard `resource` of a policy in `scope`'s stack, for acknowledging
 * exactly that finding: the resource as the template has it, references flattened the way cdk-nag flattens them
 * (`Ref` -> `<Id>`, `Fn::GetAtt` -> `<Id.Attr>`, `Fn::Join` joined).
 */
export function wildcardResourceFinding(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenReferences(Stack.of(scope).resolve(resource))}]`;
}

/** A resolved template value as one string, cdk-nag's way: `Ref` -> `<Id>`, `Fn::GetAtt` -> `<Id.Attr>`, `Fn::Join` joined. */
export function flattenReferences(node: unknown): string {
  if (typeof node === 'string') return node;
  if (typeof node === 'object' && node !== null) {
    const value = node as Record<string, unknown>;
    if (Array.isArray(value['Fn::Join'])) {
      const [delimiter, items] = value['Fn::Join'] as [string, unknown[]];
      return items.map(flattenReferences).join(delimiter);
    }
    if (Array.isArray(value['Fn::GetAtt'])) {
      const [id, attribute] = value['Fn::GetAtt'] as [string, string];
      return `<${id}.${attribute}>`;
    }
    if (typeof value.Ref === 'string') return `<${value.Ref}>`;
  }
  return JSON.stringify(node);
}
