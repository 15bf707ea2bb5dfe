import { Metric, type Alarm, type Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { DELIVERY_METRICS } from '../../core/metrics';
import { MEDIA_METRICS, mediaMetric } from '../media-container';
import { DASHBOARD_PERIOD as PERIOD, graph, stackDashboard } from './dashboards';
import type { ServiceFunction } from './service-function';
import type { ServiceHttpApi } from './service-http-api';
import type { Sweeper } from './sweeper';
import type { WebhookQueue } from './webhook-queue';

export interface ControlPlaneDashboardProps {
  /** The Answer URL's function. */
  readonly answer: ServiceFunction;
  /** The REST API's function. */
  readonly api: ServiceFunction;
  /** The HTTP API in front of both. */
  readonly httpApi: ServiceHttpApi;
  readonly webhookQueue: WebhookQueue;
  readonly sweeper: Sweeper;
  /** Ids of the media regions, whose streams Plivo reported degraded are counted here (by the answer function). */
  readonly mediaRegionIds: readonly string[];
  /** The control plane's alarms, shown with their state at the top. */
  readonly alarms: readonly Alarm[];
}

/**
 * The control plane's CloudWatch dashboard, named after its stack: the Answer URL's latency and errors, the API's
 * 4xx, 5xx and throttles, webhook deliveries and their failures, the sweeper, and the streams Plivo reported degraded
 * per media region.
 */
export class ControlPlaneDashboard extends Construct {
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ControlPlaneDashboardProps) {
    super(scope, id);
    const answer = props.answer.function;
    const api = props.api.function;
    const httpApi = props.httpApi.httpApi;
    const delivery = (metricName: string, statistic: string, label: string) =>
      new Metric({ namespace: DELIVERY_METRICS.namespace, metricName, statistic, period: PERIOD, label });

    this.dashboard = stackDashboard(this, 'Alarms of the control plane', props.alarms);
    this.dashboard.addWidgets(
      graph('Answer URL: latency (ms)', [
        answer.metricDuration({ period: PERIOD, statistic: 'p50', label: 'Answer function p50' }),
        answer.metricDuration({ period: PERIOD, statistic: 'p99', label: 'Answer function p99' }),
        httpApi.metricLatency({ period: PERIOD, statistic: 'p99', label: 'HTTP API p99 (all routes)' }),
      ]),
      graph(
        'Answer URL: invocations and errors',
        [answer.metricErrors({ period: PERIOD, label: 'Errors' }), answer.metricThrottles({ period: PERIOD, label: 'Throttles' })],
        [answer.metricInvocations({ period: PERIOD, label: 'Invocations' })],
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'API: 4xx, 5xx and throttles',
        [
          httpApi.metricClientError({ period: PERIOD, label: '4xx (429 throttles included)' }),
          httpApi.metricServerError({ period: PERIOD, label: '5xx' }),
          api.metricThrottles({ period: PERIOD, label: 'API function throttles' }),
          api.metricErrors({ period: PERIOD, label: 'API function errors' }),
        ],
        [httpApi.metricCount({ period: PERIOD, label: 'Requests' })],
      ),
      graph('API: latency (ms)', [
        api.metricDuration({ period: PERIOD, statistic: 'p50', label: 'API function p50' }),
        api.metricDuration({ period: PERIOD, statistic: 'p99', label: 'API function p99' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Webhook deliveries',
        [delivery(DELIVERY_METRICS.attempts, 'Sum', 'POST attempts'), delivery(DELIVERY_METRICS.failures, 'Sum', 'Failed attempts')],
        [delivery(DELIVERY_METRICS.latency, 'p99', 'Latency p99 (ms)')],
      ),
      graph(
        'Webhook queue',
        [
          props.webhookQueue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum', label: 'Dead-lettered' }),
          props.webhookQueue.queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum', label: 'Queued' }),
        ],
        [props.webhookQueue.queue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum', label: 'Oldest (s)' })],
      ),
    );
    const sweeper = props.sweeper.worker.function;
    this.dashboard.addWidgets(
      graph(
        'Sweeper',
        [sweeper.metricErrors({ period: PERIOD, label: 'Errors' }), sweeper.metricInvocations({ period: PERIOD, label: 'Runs' })],
        [sweeper.metricDuration({ period: PERIOD, statistic: 'Maximum', label: 'Duration max (ms)' })],
      ),
      graph(
        'Streams Plivo reported degraded, per media region',
        props.mediaRegionIds.map((regionId) => mediaMetric(regionId, MEDIA_METRICS.streamsDegraded, { statistic: 'Sum', period: PERIOD, label: regionId })),
      ),
    );
  }
}
