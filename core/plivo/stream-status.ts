import type { StreamReport } from '../calls/store';

/**
 * Plivo's stream status callbacks (`Event`, to the `<Stream>`'s `statusCallbackUrl`; protocol reference section 3),
 * and what each is to the call record: starts and stops go to its timelog, degradations and drops to its `stream`.
 * docs/webhooks.md lists this table (checked by a test).
 */
export const STREAM_STATUS_EVENTS = {
  StartStream: 'stream-started',
  StopStream: 'stream-stopped',
  DegradedStream: 'degraded',
  DroppedStream: 'dropped',
} as const satisfies Record<string, StreamReport['kind']>;

const BY_LOWER_CASE = new Map<string, StreamReport['kind']>(Object.entries(STREAM_STATUS_EVENTS).map(([event, kind]) => [event.toLowerCase(), kind]));

/** The report kind of a callback's `Event`, case aside; null when it is no stream status (Plivo's hangup, the answer). */
export const streamReportKind = (event: string): StreamReport['kind'] | null => BY_LOWER_CASE.get(event.toLowerCase()) ?? null;
