import { Aws, Stack, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readDeploymentConfig } from './config';
import { ControlPlaneStack } from './control-plane-stack';
import { EdgeFirewall } from './constructs/edge-firewall';
import { RecordingsBucket } from './constructs/recordings-bucket';
import { RegionTable } from './constructs/region-table';
import { MediaRegionStack, mediaRegionStackName } from './media-region-stack';
import type { MediaRouting } from './media-routing';
import { DEFAULT_PLIVO_API_URL } from '../core/plivo/voice-api';

export const CONTROL_PLANE_STACK_NAME = 'PlivoConnector-ControlPlane';
export const EDGE_STACK_NAME = 'PlivoConnector-Edge';

export interface ConnectorStacks {
  readonly controlPlane: ControlPlaneStack;
  /** One per configured media region, in the order of the `mediaRegions` context. */
  readonly mediaRegions: readonly MediaRegionStack[];
  /** The API's web ACL, in us-east-1 as CloudFront requires; undefined with `"apiEdge": false`. */
  readonly edge?: Stack;
}

/**
 * Adds the connector to `app` from its context: the control plane in the home media region's AWS region, and one
 * stack per media region in that region's AWS region. Checks the result against the AWS Solutions rules at synth.
 */
export function buildControlPlaneApp(app: App): ConnectorStacks {
  const config = readDeploymentConfig(app.node);
  // The account stays open when no credentials are around, so `cdk synth` works offline.
  const account = process.env.CDK_DEFAULT_ACCOUNT;

  // One routing for all stacks: the functions and every media service read the same MEDIA_REGIONS.
  const routing: MediaRouting = {
    mediaRegions: config.mediaRegions.map((region) => ({
      id: region.id,
      awsRegion: region.awsRegion,
      claimsTableName: RegionTable.tableNameFor(region.id),
      // Offline the account is the AWS::AccountId token, as the media stacks' own `account` is: it resolves alike in each.
      recordingsBucketName: RecordingsBucket.bucketNameFor(region.id, account ?? Aws.ACCOUNT_ID),
      domainName: region.domainName,
    })),
    homeMediaRegionId: config.homeMediaRegion.id,
    countryRegions: config.countryRegions,
    ...(config.plivoApiUrl !== DEFAULT_PLIVO_API_URL && { plivoApiUrl: config.plivoApiUrl }),
  };
  // The web ACL alone lives in us-east-1; the distribution stays with the API, whose functions need its URL. The
  // control plane reads the ACL's ARN from this stack's outputs (a weak reference, cdk.json), across regions if need be.
  const edge =
    config.apiEdge &&
    new Stack(app, EDGE_STACK_NAME, {
      env: { account, region: 'us-east-1' },
      description: 'Plivo connector edge: the AWS WAF web ACL of the API\'s CloudFront distribution',
    });
  const firewall = edge && new EdgeFirewall(edge, 'Firewall', { plivoSourceRanges: config.plivoSourceRanges, rateLimits: config.apiEdge?.rateLimits });
  const controlPlane = new ControlPlaneStack(app, CONTROL_PLANE_STACK_NAME, {
    env: { account, region: config.homeMediaRegion.awsRegion },
    description: 'Plivo connector control plane: REST API, Answer URL, data table, keys, webhook queue',
    ...routing,
    apiDomainName: config.apiDomain?.domainName,
    apiCertificateArn: config.apiDomain?.certificateArn,
    tenantRateLimit: config.limits.tenantRateLimit,
    plivoSourceRanges: config.plivoSourceRanges,
    webAclArn: firewall ? firewall.webAcl.attrArn : undefined,
  });
  const mediaRegions = config.mediaRegions.map((region) => {
    const stack = new MediaRegionStack(app, mediaRegionStackName(region.id), {
      env: { account, region: region.awsRegion },
      description: `Plivo connector media region ${region.id}: media service, load balancer, claims and placements, recordings`,
      regionId: region.id,
      routing,
      controlPlaneAwsRegion: config.homeMediaRegion.awsRegion,
      certificateArn: region.certificateArn,
      scaling: config.mediaScaling,
      recordingRetentionDays: config.recordingRetentionDays,
      limits: { maxRoomsPerTenant: config.limits.maxRoomsPerTenant, maxParticipantsPerRoom: config.limits.maxParticipantsPerRoom },
      // A name known at synth: the edge's or the API's own name is a token of another region's stack.
      consoleApiUrl: config.consoleApiUrl,
    });
    // Deploy order only (no reference crosses regions): the media service starts against a table, keys and queue
    // that exist. Until a region's stack is up, calls placed in it fail at the answer (no claims table yet).
    stack.addStackDependency(controlPlane);
    return stack;
  });

  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { controlPlane, mediaRegions, ...(edge && { edge }) };
}
