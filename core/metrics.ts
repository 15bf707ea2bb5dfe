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
