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

/**
 * Metrics the container emits as CloudWatch Embedded Metric Format log lines (CloudWatch Logs extracts them from the
 * task's log group), all in one namespace with the dimension `MediaRegion` = the region id.
 */
export const MEDIA_METRICS = {
  namespace: 'PlivoConnector/Media',
  dimension: 'MediaRegion',
  /**
   * Gauge: each task emits its current number of calls every 15 s, 0 included, so the Average over all tasks'
   * datapoints is the calls per task that autoscaling tracks.
   */
  activeCalls: 'ActiveCalls',
  /** Count since the task's last report (every 15 s, 0 included): relays between tasks that failed or broke. */
  relayErrors: 'RelayErrors',
  /** Count since the last report: streams refused for an unknown, used or expired claim or a bad Plivo signature. */
  claimFailures: 'ClaimFailures',
  /** Count since the last report: connections refused at `MAX_CONNECTIONS` or a tenant's `MAX_CONNECTIONS_PER_TENANT`. */
  connectionsRefused: 'ConnectionsRefused',
} as const;
