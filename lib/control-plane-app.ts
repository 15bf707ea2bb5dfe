import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploymentConfig } from './config';
import { ControlPlaneStack } from './control-plane-stack';
import { MediaRegionStack, mediaRegionStackName } from './media-region-stack';

export const CONTROL_PLANE_STACK_NAME = 'PlivoConnector-ControlPlane';

export interface ConnectorStacks {
  readonly controlPlane: ControlPlaneStack;
  /** One per configured media region, in the order of the `mediaRegions` context. */
  readonly mediaRegions: readonly MediaRegionStack[];
}

/**
 * Adds the connector to `app` from its context: one stack per media region in that region's AWS region, and the
 * control plane in the home media region's AWS region. Checks the result against the AWS Solutions rules at synth.
 */
export function buildControlPlaneApp(app: App): ConnectorStacks {
  const config = readDeploymentConfig(app.node);
  // The account stays open when no credentials are around, so `cdk synth` works offline.
  const account = process.env.CDK_DEFAULT_ACCOUNT;

  const mediaRegions = config.mediaRegions.map(
    (region) =>
      new MediaRegionStack(app, mediaRegionStackName(region.id), {
        env: { account, region: region.awsRegion },
        description: `Plivo connector media region ${region.id}: its table of call claims`,
        regionId: region.id,
      }),
  );
  const controlPlane = new ControlPlaneStack(app, CONTROL_PLANE_STACK_NAME, {
    env: { account, region: config.homeMediaRegion.awsRegion },
    description: 'Plivo connector control plane: REST API, Answer URL, data table, keys, webhook queue',
    mediaRegions: config.mediaRegions.map((region, i) => ({
      id: region.id,
      awsRegion: region.awsRegion,
      claimsTableName: mediaRegions[i]!.regionTable.tableName,
      domainName: region.domainName,
    })),
    homeMediaRegionId: config.homeMediaRegion.id,
    countryRegions: config.countryRegions,
    apiDomainName: config.apiDomain?.domainName,
    apiCertificateArn: config.apiDomain?.certificateArn,
  });
  // Deploy order only (no reference crosses regions): a region's table exists before calls can be placed in it.
  for (const stack of mediaRegions) controlPlane.addStackDependency(stack);

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { controlPlane, mediaRegions };
}
