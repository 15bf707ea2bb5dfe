/** A metric value and its CloudWatch unit. */
export interface MetricValue {
  readonly value: number;
  readonly unit: 'Count' | 'Milliseconds';
}

/**
 * Fields of one CloudWatch Embedded Metric Format log line: written as a structured log line, it is also
 * one data point of each metric, under `dimensions` (whose values are fields of the line too).
 */
export function emf(namespace: string, dimensions: Readonly<Record<string, string>>, metrics: Readonly<Record<string, MetricValue>>): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.entries(metrics).map(([name, { unit }]) => ({ Name: name, Unit: unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, { value }]) => [name, value])),
  };
}

/**
 * Counts each media server sums over all its connections and reports every `MEDIA_METRICS.reportSeconds`, 0
 * included, then starts again from 0 (ingest-container/src/metrics.ts): never a line per call or per frame.
 */
export const MEDIA_COUNTS = {
  /** Relays between tasks that failed or broke. */
  relayErrors: 'RelayErrors',
  /** Streams refused for an unknown, used or expired claim or a bad Plivo signature. */
  claimFailures: 'ClaimFailures',
  /** Connections refused at `MAX_CONNECTIONS` or a tenant's `MAX_CONNECTIONS_PER_TENANT`. */
  connectionsRefused: 'ConnectionsRefused',
  /** Times a steady source's (a call's, a browser's) jitter buffer ran dry while playing: its audio came late or not at all. */
  underruns: 'Underruns',
  /**
   * Frames a jitter buffer dropped to bring latency back down: it had run a frame fuller than its jitter needs, and no
   * quiet frame came to skip within 10 s (audio that is never quiet, such as music on hold).
   */
  trimmedFrames: 'TrimmedFrames',
  /** Quiet frames (silence, or below -45 dBFS) a jitter buffer skipped to bring latency back down, unheard. */
  skippedQuietFrames: 'SkippedQuietFrames',
  /** Frames a participant sent that its jitter buffer had no room for: it sent faster than real time (an agent far ahead). */
  droppedFramesIn: 'DroppedFramesIn',
  /** Frames not sent to a participant: its peer was over a second behind reading, or its socket backed up. */
  droppedFramesOut: 'DroppedFramesOut',
  /** 20 ms frame times the task's one media clock ran at least a frame late, or skipped: every call there got that frame late. */
  lateTicks: 'LateTicks',
  /** Agents (a routing rule's, or dispatched) that did not answer any of their dial's three attempts. */
  agentDialsFailed: 'AgentDialsFailed',
  /** Recordings that failed (their audio could not be written to their bucket); counted by the recorder. */
  recordingsFailed: 'RecordingsFailed',
} as const;

export type MediaCount = keyof typeof MEDIA_COUNTS;

/**
 * The media metrics (CloudWatch Embedded Metric Format), one namespace with the dimension `MediaRegion` = the region
 * id: what the media container emits from each task (CloudWatch Logs extracts them from the task's log group), and
 * `StreamsDegraded`, which the answer function emits in the control plane's region. The CDK constructs read the names
 * from here, so alarms and dashboards name what the code emits.
 */
export const MEDIA_METRICS = {
  namespace: 'PlivoConnector/Media',
  dimension: 'MediaRegion',
  /** How often each task reports: its counts cover this long. */
  reportSeconds: 15,
  /**
   * Gauge: each task emits its current number of calls every report, 0 included, so the Average over all tasks'
   * datapoints is the calls per task that autoscaling tracks.
   */
  activeCalls: 'ActiveCalls',
  ...MEDIA_COUNTS,
  /**
   * One per `DegradedStream` Plivo reports (it finds the connector reading a call's stream too slowly), emitted by the
   * answer function in the control plane's region, under the call's media region.
   */
  streamsDegraded: 'StreamsDegraded',
} as const;

/** The EMF fields of one `DegradedStream` of a call streaming in `region`. */
export function streamDegradedMetric(region: string): Record<string, unknown> {
  return emf(MEDIA_METRICS.namespace, { [MEDIA_METRICS.dimension]: region }, { [MEDIA_METRICS.streamsDegraded]: { value: 1, unit: 'Count' } });
}

/**
 * What the webhook delivery worker reports in CloudWatch Embedded Metric Format: one namespace, no dimensions, a count
 * of 1 per POST attempt and 1 per failed attempt, and each successful POST's latency.
 */
export const DELIVERY_METRICS = {
  namespace: 'PlivoConnector',
  attempts: 'WebhookDeliveryAttempts',
  failures: 'WebhookDeliveryFailures',
  latency: 'WebhookDeliveryLatency',
} as const;

/** The EMF fields of one POST attempt: its outcome, and its latency when it succeeded. */
export function deliveryMetrics(ok: boolean, latencyMs: number): Record<string, unknown> {
  return emf(DELIVERY_METRICS.namespace, {}, {
    [DELIVERY_METRICS.attempts]: { value: 1, unit: 'Count' },
    [DELIVERY_METRICS.failures]: { value: ok ? 0 : 1, unit: 'Count' },
    ...(ok && { [DELIVERY_METRICS.latency]: { value: latencyMs, unit: 'Milliseconds' } }),
  });
}
