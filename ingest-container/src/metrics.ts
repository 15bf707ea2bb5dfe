import { MEDIA_COUNTS, MEDIA_METRICS, emf, type MediaCount, type MetricValue } from '../../core/metrics';

/**
 * What one media server counted since its last metrics report, summed over all its connections and rooms. Each count
 * is bumped where the event happens (an underrun, a dropped frame, a failed dial: never for a frame that went well),
 * and read and reset by the report: counts are never logged per call or per frame.
 */
export type MediaCounters = Record<MediaCount, number>;

const COUNTS = Object.keys(MEDIA_COUNTS) as MediaCount[];

export const newMediaCounters = (): MediaCounters => Object.fromEntries(COUNTS.map((count) => [count, 0])) as MediaCounters;

/** The counts so far, and `counters` back to 0. */
export function takeCounts(counters: MediaCounters): MediaCounters {
  const counts = { ...counters };
  for (const count of COUNTS) counters[count] = 0;
  return counts;
}

/** Whether any count is above 0. */
export const anyCounted = (counts: MediaCounters): boolean => COUNTS.some((count) => counts[count] > 0);

/** The EMF fields of one report of a server of `region`: its calls now, and its counts since the last report. */
export function mediaMetrics(region: string, activeCalls: number, counts: MediaCounters): Record<string, unknown> {
  const metrics: Record<string, MetricValue> = { [MEDIA_METRICS.activeCalls]: { value: activeCalls, unit: 'Count' } };
  for (const count of COUNTS) metrics[MEDIA_COUNTS[count]] = { value: counts[count], unit: 'Count' };
  return emf(MEDIA_METRICS.namespace, { [MEDIA_METRICS.dimension]: region }, metrics);
}
