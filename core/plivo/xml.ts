/** The Plivo XML this connector answers with. Plivo reads `text/xml`, at most 100 KB. */
const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Plivo's stream options a routing rule sets; each lands in the XML only when set. */
export interface StreamOptions {
  readonly noiseCancellation?: boolean;
  /** 60-100; Plivo's default (85) when left out. */
  readonly noiseCancellationLevel?: number | null;
}

/** The attributes `options` add, each with its leading space: none when nothing is set (the seed's exact XML). */
function optionAttributes({ noiseCancellation, noiseCancellationLevel }: StreamOptions): string {
  if (!noiseCancellation) return '';
  return ` noiseCancellation="true"${noiseCancellationLevel ? ` noiseCancellationLevel="${noiseCancellationLevel}"` : ''}`;
}

/**
 * Streams the call both ways as mu-law 8 kHz; keepCallAlive holds the call up while the stream lives. Plivo POSTs the
 * stream's StartStream, StopStream, DegradedStream and DroppedStream to `statusCallbackUrl`.
 */
export function streamXml(streamUrl: string, statusCallbackUrl: string, options: StreamOptions = {}): string {
  return (
    `${PROLOG}<Response><Stream bidirectional="true" audioTrack="inbound" contentType="audio/x-mulaw;rate=8000" ` +
    `keepCallAlive="true" statusCallbackUrl="${escapeXml(statusCallbackUrl)}" statusCallbackMethod="POST"${optionAttributes(options)}>${escapeXml(streamUrl)}</Stream></Response>`
  );
}

export const HANGUP_REJECTED_XML = `${PROLOG}<Response><Hangup reason="rejected"/></Response>`;

/** The answer to a hangup or stream status callback: nothing to do. */
export const EMPTY_RESPONSE_XML = `${PROLOG}<Response/>`;
