import { MathExpression, type Alarm, type Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { MEDIA_METRICS, mediaMetric } from '../media-container';
import { DASHBOARD_PERIOD as PERIOD, graph, stackDashboard } from './dashboards';
import type { MediaLoadBalancer } from './media-load-balancer';
import type { MediaService } from './media-service';

export interface MediaDashboardProps {
  /** Our id of the media region, e.g. `us002`. */
  readonly regionId: string;
  readonly mediaService: MediaService;
  readonly loadBalancer: MediaLoadBalancer;
  /** AWS region of the control plane, where the answer function emits this region's `StreamsDegraded`. */
  readonly controlPlaneAwsRegion: string;
  /** The region's alarms, shown with their state at the top. */
  readonly alarms: readonly Alarm[];
}

/**
 * One CloudWatch dashboard per media region, named after its stack: calls, refusals and relay errors, the audio
 * quality the tasks count (underruns, trimmed, dropped and late frames), agents' failed dials, failed recordings,
 * the streams Plivo reported degraded, the load balancer's healthy tasks, and the tasks' CPU and memory.
 */
export class MediaDashboard extends Construct {
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MediaDashboardProps) {
    super(scope, id);
    const media = props.mediaService;
    const count = (metricName: string, label: string) => media.metric(metricName, 'Sum', PERIOD).with({ label });
    const reportsPerMinute = 60 / MEDIA_METRICS.reportSeconds;

    this.dashboard = stackDashboard(this, `Alarms of media region ${props.regionId}`, props.alarms);
    this.dashboard.addWidgets(
      graph(
        'Active calls',
        [
          new MathExpression({
            // Each task reports its calls every reportSeconds: a minute's Sum counts every call that many times.
            expression: `calls / ${reportsPerMinute}`,
            usingMetrics: { calls: media.metric(MEDIA_METRICS.activeCalls, 'Sum', PERIOD) },
            label: 'Calls in the region',
            period: PERIOD,
          }),
        ],
        [media.metric(MEDIA_METRICS.activeCalls, 'Average', PERIOD).with({ label: 'Calls per task (average)' })],
      ),
      graph('Refused and failed connections', [
        count(MEDIA_METRICS.claimFailures, 'Claim failures'),
        count(MEDIA_METRICS.relayErrors, 'Relay errors'),
        count(MEDIA_METRICS.connectionsRefused, 'Connections refused'),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Audio in: underruns, skipped, trimmed and dropped frames',
        [
          count(MEDIA_METRICS.underruns, 'Underruns'),
          count(MEDIA_METRICS.skippedQuietFrames, 'Quiet frames skipped'),
          count(MEDIA_METRICS.trimmedFrames, 'Trimmed frames'),
          count(MEDIA_METRICS.droppedFramesIn, 'Dropped frames in'),
        ],
        [media.underrunsPerCallMinute(PERIOD, 1)],
      ),
      graph('Audio out: dropped frames, late ticks', [
        count(MEDIA_METRICS.droppedFramesOut, 'Dropped frames out'),
        count(MEDIA_METRICS.lateTicks, 'Late ticks (task short of CPU)'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Agents, recordings, degraded streams', [
        count(MEDIA_METRICS.agentDialsFailed, 'Agent dials failed'),
        count(MEDIA_METRICS.recordingsFailed, 'Recordings failed'),
        // The answer function reports them, in the control plane's region.
        mediaMetric(props.regionId, MEDIA_METRICS.streamsDegraded, { statistic: 'Sum', period: PERIOD, region: props.controlPlaneAwsRegion, label: 'Streams degraded (Plivo)' }),
      ]),
      graph('Load balancer: tasks', [
        props.loadBalancer.targetGroup.metrics.healthyHostCount({ period: PERIOD, statistic: 'Minimum', label: 'Healthy' }),
        props.loadBalancer.targetGroup.metrics.unHealthyHostCount({ period: PERIOD, statistic: 'Maximum', label: 'Unhealthy' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Tasks: CPU and memory (%)', [
        media.service.metricCpuUtilization({ period: PERIOD, statistic: 'Average', label: 'CPU (average)' }),
        media.service.metricCpuUtilization({ period: PERIOD, statistic: 'Maximum', label: 'CPU (busiest task)' }),
        media.service.metricMemoryUtilization({ period: PERIOD, statistic: 'Average', label: 'Memory (average)' }),
        media.service.metricMemoryUtilization({ period: PERIOD, statistic: 'Maximum', label: 'Memory (fullest task)' }),
      ]),
    );
  }
}
