import type { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { MEDIA_METRICS } from '../core/metrics';

/**
 * What the media container (ingest-container/) and its infrastructure agree on: ports, health check, drain times and
 * the metrics it emits. The constructs take these from here, so a change is made once.
 */
export const MEDIA_CONTAINER = {
  /** Plivo streams (`/plivo`), the room protocol (`/rooms/{id}`), the web console (`/console`) and `/health`. */
  publicPort: 8080,
  /** Task-to-task relay of streams that landed on another task than their room's, over the task's private IP. */
  relayPort: 8081,
  /** `GET` answers 200 while the task serves, 503 once it drains. */
  healthPath: '/health',
  /** After SIGTERM the container drains its calls for up to this long, then exits. */
  drainTimeoutSeconds: 110,
  /**
   * ECS waits this long after SIGTERM before it kills the container: the drain plus room to exit; Fargate allows at
   * most 120 s.
   */
  stopTimeoutSeconds: 120,
} as const;

/** The metrics the container emits, defined beside the code that emits them (the image holds core/, not lib/). */
export { MEDIA_METRICS };

/**
 * One media metric of region `regionId`, all its tasks' datapoints together. `region`: the AWS region it is reported
 * in, when not the stack's own (`StreamsDegraded` is the control plane's).
 */
export function mediaMetric(regionId: string, metricName: string, options: { statistic: string; period: Duration; region?: string; label?: string }): Metric {
  return new Metric({ namespace: MEDIA_METRICS.namespace, metricName, dimensionsMap: { [MEDIA_METRICS.dimension]: regionId }, ...options });
}
