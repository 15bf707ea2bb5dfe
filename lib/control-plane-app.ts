import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PlivoConnector } from './plivo-connector';

/**
 * What `bin/app.ts` deploys: the connector from the app's context (cdk.json, `-c key=value`), checked against the AWS
 * Solutions rules at synth.
 */
export function buildControlPlaneApp(app: App): PlivoConnector {
  const connector = PlivoConnector.fromContext(app, 'PlivoConnector');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return connector;
}
