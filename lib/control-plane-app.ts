import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploymentConfig } from './config';
import { ControlPlaneStack } from './control-plane-stack';

export const CONTROL_PLANE_STACK_NAME = 'PlivoConnector-ControlPlane';

/**
 * Adds the control plane to `app` from its context, in the home media region's AWS region, and checks the
 * result against the AWS Solutions rules at synth.
 */
export function buildControlPlaneApp(app: App): ControlPlaneStack {
  const config = readDeploymentConfig(app.node);
  const stack = new ControlPlaneStack(app, CONTROL_PLANE_STACK_NAME, {
    // The account stays open when no credentials are around, so `cdk synth` works offline.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: config.homeMediaRegion.awsRegion },
    description: 'Plivo connector control plane: REST API, data table, keys, webhook queue',
    mediaRegionIds: config.mediaRegions.map((region) => region.id),
    apiDomainName: config.apiDomain?.domainName,
    apiCertificateArn: config.apiDomain?.certificateArn,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
