import { Annotations, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import type { MediaScaling, TenantLimits } from './config';
import { MediaDashboard } from './constructs/media-dashboard';
import { MediaLoadBalancer } from './constructs/media-load-balancer';
import { MediaNetwork } from './constructs/media-network';
import { MediaService } from './constructs/media-service';
import { RecordingsBucket } from './constructs/recordings-bucket';
import { RegionTable } from './constructs/region-table';
import { controlPlaneReferences } from './control-plane-names';
import { validateMediaRouting, type MediaRouting } from './media-routing';

export interface MediaRegionStackProps extends StackProps {
  /** Our id of the media region, e.g. `us002`; `env.region` is its AWS region. */
  readonly regionId: string;
  /** Every media region, exactly as the control plane's functions get them; must include `regionId`. */
  readonly routing: MediaRouting;
  /** AWS region of the control plane, whose table, keys and webhook queue the media service uses by name. */
  readonly controlPlaneAwsRegion: string;
  /**
   * ACM certificate (in this stack's region) for this region's `domainName` in `routing`; both or neither.
   * @default - none: a plain ws:// listener on port 80 and a synth warning
   */
  readonly certificateArn?: string;
  /** @default - MediaService's defaults */
  readonly scaling?: MediaScaling;
  /** Rooms per tenant per task, seats per room. @default - MediaService's defaults */
  readonly limits?: Pick<TenantLimits, 'maxRoomsPerTenant' | 'maxParticipantsPerRoom'>;
  /** Days a recording is kept in this region's bucket. @default 90 (`RECORDING_RETENTION_DAYS`) */
  readonly recordingRetentionDays?: number;
  /** Seconds of audio in each recording segment its tasks upload. @default 20 (MediaService's `recordingSegmentSeconds`) */
  readonly recordingSegmentSeconds?: number;
  /** The media container image. @default - built from ingest-container/Dockerfile */
  readonly image?: ContainerImage;
  /** The management API's public URL, which the web console calls. @default - none: the console asks for it */
  readonly consoleApiUrl?: string;
}

/** The stack name of a media region, e.g. `PlivoConnector-Media-us002`. */
export function mediaRegionStackName(regionId: string): string {
  return `PlivoConnector-Media-${regionId}`;
}

/**
 * One media region, in its own AWS region: its table of call claims and room placements, its network, and the media
 * service behind its load balancer. It refers to the control plane (another region, often) by fixed names only.
 */
export class MediaRegionStack extends Stack {
  public readonly regionTable: RegionTable;
  public readonly network: MediaNetwork;
  public readonly loadBalancer: MediaLoadBalancer;
  public readonly mediaService: MediaService;
  public readonly recordings: RecordingsBucket;
  public readonly dashboard: MediaDashboard;

  constructor(scope: Construct, id: string, props: MediaRegionStackProps) {
    super(scope, id, props);
    validateMediaRouting(`MediaRegionStack ${id}`, props.routing);
    const region = props.routing.mediaRegions.find((r) => r.id === props.regionId);
    if (region === undefined) {
      throw new Error(
        `MediaRegionStack ${id}: regionId "${props.regionId}" is none of the routing's mediaRegions ` +
          `(${props.routing.mediaRegions.map((r) => r.id).join(', ')}).`,
      );
    }

    this.regionTable = new RegionTable(this, 'RegionTable', { regionId: props.regionId });
    if (region.claimsTableName !== this.regionTable.tableName) {
      throw new Error(
        `MediaRegionStack ${id}: the routing names ${props.regionId}'s table "${region.claimsTableName}", but this ` +
          `stack's table is "${this.regionTable.tableName}": build the routing with RegionTable.tableNameFor.`,
      );
    }
    this.network = new MediaNetwork(this, 'Network');
    this.loadBalancer = new MediaLoadBalancer(this, 'LoadBalancer', {
      vpc: this.network.vpc,
      domainName: region.domainName,
      certificateArn: props.certificateArn,
    });
    // Its server access logs share the load balancer's access-log bucket (SSE-S3, which S3's log delivery requires).
    this.recordings = new RecordingsBucket(this, 'Recordings', {
      regionId: props.regionId,
      retentionDays: props.recordingRetentionDays,
      accessLogsBucket: this.loadBalancer.accessLogBucket,
    });
    if (region.recordingsBucketName !== this.recordings.bucketName) {
      throw new Error(
        `MediaRegionStack ${id}: the routing names ${props.regionId}'s recordings bucket "${region.recordingsBucketName}", ` +
          `but this stack's is "${this.recordings.bucketName}": build the routing with RecordingsBucket.bucketNameFor ` +
          "and this stack's account.",
      );
    }
    this.mediaService = new MediaService(this, 'Media', {
      vpc: this.network.vpc,
      loadBalancer: this.loadBalancer,
      regionId: props.regionId,
      routing: props.routing,
      regionTable: this.regionTable.table,
      controlPlane: controlPlaneReferences(this, props.controlPlaneAwsRegion),
      image: props.image,
      consoleApiUrl: props.consoleApiUrl,
      recordingSegmentSeconds: props.recordingSegmentSeconds,
      ...props.scaling,
      ...props.limits,
    });

    this.recordings.grantWrite(this.mediaService.taskDefinition.taskRole);
    this.dashboard = new MediaDashboard(this, 'Dashboard', {
      regionId: props.regionId,
      mediaService: this.mediaService,
      loadBalancer: this.loadBalancer,
      controlPlaneAwsRegion: props.controlPlaneAwsRegion,
      alarms: this.alarms,
    });

    if (!this.loadBalancer.tls) {
      Annotations.of(this).addWarningV2(
        'plivo-connector:media-tls',
        `Media region ${props.regionId} has no certificateArn: its load balancer serves plain ws:// on port 80, ` +
          `which Plivo does not stream to. Configure "mediaRegions.${props.regionId}.domainName" and certificateArn.`,
      );
    }

    new CfnOutput(this, 'TableName', { value: this.regionTable.tableName });
    new CfnOutput(this, 'RecordingsBucketName', {
      value: this.recordings.bucket.bucketName,
      description: `Recordings of ${props.regionId} (retained when the stack is deleted, as is its KMS key)`,
    });
    new CfnOutput(this, 'IngestUrl', {
      value: this.loadBalancer.url,
      description: `Base URL of the ${props.regionId} media service (Plivo streams, rooms, /console)`,
    });
    new CfnOutput(this, 'LoadBalancerDnsName', {
      value: this.loadBalancer.loadBalancer.loadBalancerDnsName,
      description:
        region.domainName === undefined
          ? 'DNS name of the media load balancer'
          : `Point a CNAME (or alias) record for ${region.domainName} at this name`,
    });
    new CfnOutput(this, 'AlarmNames', {
      value: Fn.join(',', this.alarms.map((alarm) => alarm.alarmName)),
      description: 'CloudWatch alarms of the media service; none has an action, subscribe to them',
    });
  }

  /**
   * Unhealthy tasks, relay errors, claim failures, refused connections, failed agent dials and recordings, sustained
   * underruns; named in the `AlarmNames` output, none has an action.
   */
  public get alarms(): readonly Alarm[] {
    return [this.loadBalancer.unhealthyHostsAlarm, ...this.mediaService.alarms];
  }
}
