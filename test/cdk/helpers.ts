import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack, type StackProps } from 'aws-cdk-lib';

/** Handler stand-in for construct tests. */
export const FIXTURE_ENTRY = path.join(__dirname, 'fixtures', 'handler.ts');

/** The context `cdk synth` runs with: our deployment settings and the feature flags that shape templates. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  }
).context;

/**
 * An app with cdk.json's context that skips esbuild bundling: template tests need the resources, not the code. And
 * without CDK's built-in CloudFormation validation, whose engine takes seconds to load in each test file and a few
 * hundred milliseconds each synth: construct tests read their templates, and the deployable app, every construct in
 * it, is validated against those rules by the tests that build it (`validatedApp`), as `cdk synth` does.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }, builtinCloudFormationValidation: false });
}

/** `testApp` that bundles code and stages assets into `outdir`, as `cdk synth` does. */
export function bundlingApp(outdir: string): App {
  return new App({ outdir, context: CDK_JSON_CONTEXT, builtinCloudFormationValidation: false });
}

/** `testApp` with the built-in CloudFormation validation, as `cdk synth` runs it: cdk.json makes its errors fail synth. */
export function validatedApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
}

export function testStack(props?: StackProps): Stack {
  return new Stack(testApp(), 'Test', props);
}

/**
 * Runs `synth` with console.error muted and returns what it would have printed: the synth-time validation report,
 * which lists warnings such as a media region without a domainName.
 */
export function capturingReport<T>(synth: () => T): { result: T; report: string } {
  const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const result = synth();
    return { result, report: spy.mock.calls.map((args) => args.join(' ')).join('\n') };
  } finally {
    spy.mockRestore();
  }
}
