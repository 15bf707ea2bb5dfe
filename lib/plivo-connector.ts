import { Aws, Stack, Stage } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { deploymentContext, parseDeploymentConfig, type DeploymentContext } from './config';
import { ControlPlaneStack } from './control-plane-stack';
import { EdgeFirewall } from './constructs/edge-firewall';
import { RECORDING_RETENTION_DAYS, RecordingsBucket } from './constructs/recordings-bucket';
import { RegionTable } from './constructs/region-table';
import { MediaRegionStack, mediaRegionStackName } from './media-region-stack';
import type { MediaRouting } from './media-routing';
import { DEFAULT_PLIVO_API_URL } from '../core/plivo/voice-api';

export const CONTROL_PLANE_STACK_NAME = 'PlivoConnector-ControlPlane';
export const EDGE_STACK_NAME = 'PlivoConnector-Edge';

/** The deployment's settings, as the context keys name them (`cdk.context.example.json`), and the AWS account. */
export interface PlivoConnectorProps extends DeploymentContext {
  /** The AWS account of every stack. @default - the CLI's (`CDK_DEFAULT_ACCOUNT`), open when none, so synth works offline */
  readonly account?: string;
}

/**
 * The whole connector, to put in any CDK app: the edge (us-east-1: the API's WAF web ACL; none with `apiEdge: false`),
 * the control plane in the home media region's AWS region, and one stack per media region in that region's AWS
 * region. Its stacks are made beside it, in its scope (an App or a Stage), under the names and paths they had before
 * this construct existed (`PlivoConnector-ControlPlane`, `PlivoConnector-Media-<id>`, `PlivoConnector-Edge`): a
 * stack's path shapes some of its resources' names and logical ids, so a deployment made from `bin/app.ts` updates in
 * place. One connector therefore fits an app (a second goes in another Stage). Invalid props throw with the key at
 * fault and an example, before anything is added.
 *
 * ```ts
 * const app = new App();
 * new PlivoConnector(app, 'PlivoConnector', { mediaRegions: { us002: { awsRegion: 'us-east-1' } }, homeMediaRegion: 'us002' });
 * ```
 */
export class PlivoConnector extends Construct {
  /** From the app's context (cdk.json, `-c key=value`): what `bin/app.ts` deploys. */
  static fromContext(scope: Construct, id: string, props: { readonly account?: string } = {}): PlivoConnector {
    // Unchecked values typed as props: the constructor validates them, as it does props.
    return new PlivoConnector(scope, id, { ...(deploymentContext(scope.node) as DeploymentContext), ...props });
  }

  readonly controlPlane: ControlPlaneStack;
  /** One per media region, in the order of `mediaRegions`. */
  readonly mediaRegions: readonly MediaRegionStack[];
  /** The API's web ACL, in us-east-1 as CloudFront requires; undefined with `apiEdge: false`. */
  readonly edge?: Stack;

  constructor(scope: Construct, id: string, props: PlivoConnectorProps) {
    if (!Stage.isStage(scope)) throw new Error(`PlivoConnector "${id}" goes directly in an App or a Stage: its stacks are made beside it`);
    const config = parseDeploymentConfig(props);
    super(scope, id);
    // The account stays open when no credentials are around, so `cdk synth` works offline.
    const account = props.account ?? process.env.CDK_DEFAULT_ACCOUNT;

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
      ...(config.recordingRetentionDays !== RECORDING_RETENTION_DAYS.default && { recordingRetentionDays: config.recordingRetentionDays }),
    };
    // The web ACL alone lives in us-east-1; the distribution stays with the API, whose functions need its URL. The
    // control plane reads the ACL's ARN from this stack's outputs (a weak reference, cdk.json), across regions if need be.
    const edge =
      config.apiEdge &&
      new Stack(scope, EDGE_STACK_NAME, {
        env: { account, region: 'us-east-1' },
        description: 'Plivo connector edge: the AWS WAF web ACL of the API\'s CloudFront distribution',
      });
    const firewall = edge && new EdgeFirewall(edge, 'Firewall', { plivoSourceRanges: config.plivoSourceRanges, rateLimits: config.apiEdge?.rateLimits });
    this.controlPlane = new ControlPlaneStack(scope, CONTROL_PLANE_STACK_NAME, {
      env: { account, region: config.homeMediaRegion.awsRegion },
      description: 'Plivo connector control plane: REST API, Answer URL, data table, keys, webhook queue',
      ...routing,
      apiDomainName: config.apiDomain?.domainName,
      apiCertificateArn: config.apiDomain?.certificateArn,
      tenantRateLimit: config.limits.tenantRateLimit,
      plivoSourceRanges: config.plivoSourceRanges,
      webAclArn: firewall ? firewall.webAcl.attrArn : undefined,
    });
    this.mediaRegions = config.mediaRegions.map((region) => {
      const stack = new MediaRegionStack(scope, mediaRegionStackName(region.id), {
        env: { account, region: region.awsRegion },
        description: `Plivo connector media region ${region.id}: media service, load balancer, claims and placements, recordings`,
        regionId: region.id,
        routing,
        controlPlaneAwsRegion: config.homeMediaRegion.awsRegion,
        certificateArn: region.certificateArn,
        scaling: config.mediaScaling,
        recordingRetentionDays: config.recordingRetentionDays,
        recordingSegmentSeconds: config.recordingSegmentSeconds,
        limits: { maxRoomsPerTenant: config.limits.maxRoomsPerTenant, maxParticipantsPerRoom: config.limits.maxParticipantsPerRoom },
        // A name known at synth: the edge's or the API's own name is a token of another region's stack.
        consoleApiUrl: config.consoleApiUrl,
      });
      // Deploy order only (no reference crosses regions): the media service starts against a table, keys and queue
      // that exist. Until a region's stack is up, calls placed in it fail at the answer (no claims table yet).
      stack.addStackDependency(this.controlPlane);
      return stack;
    });
    if (edge) this.edge = edge;
  }
}
