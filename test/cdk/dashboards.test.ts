import { Aws } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import { DELIVERY_METRICS, MEDIA_COUNTS, MEDIA_METRICS, deliveryMetrics, streamDegradedMetric } from '../../core/metrics';
import { ControlPlaneStack } from '../../lib/control-plane-stack';
import { RecordingsBucket } from '../../lib/constructs/recordings-bucket';
import { MediaRegionStack, mediaRegionStackName } from '../../lib/media-region-stack';
import type { MediaRouting } from '../../lib/media-routing';
import { mediaMetrics } from '../../ingest-container/src/metrics';
import { newMediaCounters } from '../../ingest-container/src/metrics';
import { capturingReport, testApp } from './helpers';

const ROUTING: MediaRouting = {
  mediaRegions: [
    { id: 'us002', awsRegion: 'us-east-1', claimsTableName: 'plivo-connector-us002-media', recordingsBucketName: RecordingsBucket.bucketNameFor('us002', Aws.ACCOUNT_ID), domainName: 'media-us.example.com' },
    { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: RecordingsBucket.bucketNameFor('in002', Aws.ACCOUNT_ID), domainName: 'media-in.example.com' },
  ],
  homeMediaRegionId: 'us002',
  countryRegions: { IN: 'in002' },
};

function mediaTemplate(): Template {
  const stack = new MediaRegionStack(testApp(), mediaRegionStackName('in002'), {
    env: { region: 'ap-south-1' },
    regionId: 'in002',
    routing: ROUTING,
    controlPlaneAwsRegion: 'us-east-1',
    certificateArn: 'arn:aws:acm:ap-south-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
    image: ContainerImage.fromRegistry('public.ecr.aws/example/plivo-connector-media:test'),
  });
  return capturingReport(() => Template.fromStack(stack)).result;
}

function controlPlaneTemplate(): Template {
  const stack = new ControlPlaneStack(testApp(), 'PlivoConnector', { env: { region: 'us-east-1' }, ...ROUTING });
  return capturingReport(() => Template.fromStack(stack)).result;
}

/** A metric as a graph or an alarm names it: namespace, name, and its dimensions and region when set. */
interface MetricRef {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly region?: string;
}

interface Widget {
  readonly type: string;
  readonly properties: { readonly title?: string; readonly metrics?: unknown[][]; readonly alarms?: unknown[] };
}

/** The dashboard's widgets: its body, with every reference (`Ref`, `Fn::GetAtt`) read as the string `TOKEN`. */
function widgetsOf(template: Template): Widget[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody;
  const text = typeof body === 'string' ? body : (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

/** Every metric the graphs plot (a math expression's own metrics included). */
function graphedMetrics(widgets: readonly Widget[]): MetricRef[] {
  return widgets.flatMap((widget) =>
    (widget.properties.metrics ?? [])
      .filter((row) => typeof row[0] === 'string')
      .map((row) => {
        const options = (typeof row.at(-1) === 'object' ? row.at(-1) : {}) as { region?: string };
        const names = row.filter((cell): cell is string => typeof cell === 'string');
        const [namespace, name, ...pairs] = names;
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
        return { namespace: namespace!, name: name!, dimensions, ...(options.region && { region: options.region }) };
      }),
  );
}

interface AlarmProperties {
  AlarmDescription: string;
  Namespace?: string;
  MetricName?: string;
  Threshold: number;
  EvaluationPeriods: number;
  Dimensions?: { Name: string; Value: string }[];
  Metrics?: { Expression?: string; MetricStat?: { Metric: { Namespace: string; MetricName: string } } }[];
}

function alarmsOf(template: Template): AlarmProperties[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((r) => (r as { Properties: AlarmProperties }).Properties);
}

/** Every metric the alarms watch, alone or in a math expression. */
function alarmedMetrics(template: Template): { namespace: string; name: string }[] {
  return alarmsOf(template).flatMap((alarm) =>
    alarm.MetricName !== undefined
      ? [{ namespace: alarm.Namespace!, name: alarm.MetricName }]
      : (alarm.Metrics ?? []).flatMap((m) => (m.MetricStat ? [{ namespace: m.MetricStat.Metric.Namespace, name: m.MetricStat.Metric.MetricName }] : [])),
  );
}

/** What the code really emits, from its own EMF builders: the media report, a degraded stream, a webhook POST. */
function emitted(): Set<string> {
  const lines = [mediaMetrics('in002', 3, newMediaCounters()), streamDegradedMetric('in002'), deliveryMetrics(true, 12), deliveryMetrics(false, 0)];
  const names = new Set<string>();
  for (const line of lines) {
    for (const directive of (line._aws as { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] }).CloudWatchMetrics) {
      for (const metric of directive.Metrics) names.add(`${directive.Namespace} ${metric.Name}`);
    }
  }
  return names;
}

const ours = (namespace: string) => namespace === MEDIA_METRICS.namespace || namespace === DELIVERY_METRICS.namespace;

describe('media region dashboard', () => {
  const template = mediaTemplate();
  const widgets = widgetsOf(template);
  const metrics = graphedMetrics(widgets);

  test('is named after its stack', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'PlivoConnector-Media-in002' });
  });

  test("graphs every metric the container counts, for this region, and the control plane's degraded streams from its region", () => {
    const mine = metrics.filter((m) => m.namespace === MEDIA_METRICS.namespace);
    const names = new Set(mine.map((m) => m.name));
    for (const name of [MEDIA_METRICS.activeCalls, ...Object.values(MEDIA_COUNTS), MEDIA_METRICS.streamsDegraded]) expect(names).toContain(name);
    for (const metric of mine) expect(metric.dimensions).toEqual({ [MEDIA_METRICS.dimension]: 'in002' });
    expect(mine.filter((m) => m.name === MEDIA_METRICS.streamsDegraded).map((m) => m.region)).toEqual(['us-east-1']);
    expect(mine.filter((m) => m.name !== MEDIA_METRICS.streamsDegraded).every((m) => m.region === undefined)).toBe(true);
  });

  test("graphs the load balancer's healthy and unhealthy tasks and the tasks' CPU and memory", () => {
    const names = metrics.map((m) => `${m.namespace} ${m.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'AWS/NetworkELB HealthyHostCount',
        'AWS/NetworkELB UnHealthyHostCount',
        'AWS/ECS CPUUtilization',
        'AWS/ECS MemoryUtilization',
      ]),
    );
  });

  test("shows the region's alarms", () => {
    const alarms = widgets.filter((w) => w.type === 'alarm').flatMap((w) => w.properties.alarms ?? []);
    expect(alarms).toHaveLength(alarmsOf(template).length);
  });
});

describe('control plane dashboard', () => {
  const template = controlPlaneTemplate();
  const widgets = widgetsOf(template);
  const metrics = graphedMetrics(widgets);
  const names = metrics.map((m) => `${m.namespace} ${m.name}`);

  test('is named after its stack', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'PlivoConnector' });
  });

  test("graphs the Answer URL's latency and errors, the API's 4xx, 5xx and throttles, webhook deliveries and the sweeper", () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'AWS/Lambda Duration',
        'AWS/Lambda Errors',
        'AWS/Lambda Throttles',
        'AWS/Lambda Invocations',
        'AWS/ApiGateway 4xx',
        'AWS/ApiGateway 5xx',
        'AWS/ApiGateway Latency',
        'AWS/SQS ApproximateNumberOfMessagesVisible',
        'AWS/SQS ApproximateAgeOfOldestMessage',
        `${DELIVERY_METRICS.namespace} ${DELIVERY_METRICS.attempts}`,
        `${DELIVERY_METRICS.namespace} ${DELIVERY_METRICS.failures}`,
        `${DELIVERY_METRICS.namespace} ${DELIVERY_METRICS.latency}`,
      ]),
    );
  });

  test('graphs the degraded streams of every media region', () => {
    const degraded = metrics.filter((m) => m.name === MEDIA_METRICS.streamsDegraded).map((m) => m.dimensions[MEDIA_METRICS.dimension]);
    expect(degraded.sort()).toEqual(['in002', 'us002']);
  });
});

test('every metric of our namespaces that a dashboard graphs or an alarm watches is one the code emits', () => {
  const names = emitted();
  // The builders are read, not trusted: each count has its metric.
  expect(names.size).toBe(Object.keys(MEDIA_COUNTS).length + 2 + 3);
  for (const template of [mediaTemplate(), controlPlaneTemplate()]) {
    const watched = [...graphedMetrics(widgetsOf(template)), ...alarmedMetrics(template)].filter((m) => ours(m.namespace));
    expect(watched.length).toBeGreaterThan(0);
    for (const metric of watched) expect(names).toContain(`${metric.namespace} ${metric.name}`);
  }
});

describe('quality alarms', () => {
  test('a media region alarms on failed agent dials, failed recordings and sustained underruns', () => {
    const alarms = alarmsOf(mediaTemplate());
    const on = (name: string) => alarms.filter((a) => a.MetricName === name);
    expect(on(MEDIA_METRICS.agentDialsFailed)).toEqual([expect.objectContaining({ Threshold: 5, EvaluationPeriods: 1, Dimensions: [{ Name: MEDIA_METRICS.dimension, Value: 'in002' }] })]);
    expect(on(MEDIA_METRICS.recordingsFailed)).toEqual([expect.objectContaining({ Threshold: 1, EvaluationPeriods: 1 })]);
    const underruns = alarms.filter((a) => a.Metrics?.some((m) => m.MetricStat?.Metric.MetricName === MEDIA_METRICS.underruns));
    expect(underruns).toHaveLength(1);
    // Per call-minute (each task reports its calls 4 times a minute), over at least 10 call-minutes, for 15 minutes.
    expect(underruns[0]).toMatchObject({ Threshold: 10, EvaluationPeriods: 3 });
    expect(underruns[0]!.Metrics?.find((m) => m.Expression)?.Expression).toBe('IF(calls >= 40, 4 * FILL(underruns, 0) / calls, 0)');
  });

  test('the control plane alarms on each media region’s degraded streams', () => {
    const degraded = alarmsOf(controlPlaneTemplate()).filter((a) => a.MetricName === MEDIA_METRICS.streamsDegraded);
    expect(degraded.map((a) => a.Dimensions?.[0]?.Value).sort()).toEqual(['in002', 'us002']);
    for (const alarm of degraded) expect(alarm).toMatchObject({ Namespace: MEDIA_METRICS.namespace, Threshold: 10, EvaluationPeriods: 1 });
  });
});
