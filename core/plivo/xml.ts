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
  /**
   * An outbound rule's headers, as Plivo's `extraHeaders` (`k=v,k2=v2`): Plivo hands them to the stream's `start` as
   * `extra_headers`. The rule's schema keeps them to Plivo's limits (`[A-Za-z0-9]` values, 512 bytes).
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The attributes `options` add, each with its leading space: none when nothing is set (the seed's exact XML). */
function optionAttributes({ noiseCancellation, noiseCancellationLevel, headers = {} }: StreamOptions): string {
  const extra = Object.entries(headers).map(([name, value]) => `${name}=${value}`);
  const noise = noiseCancellation ? ` noiseCancellation="true"${noiseCancellationLevel ? ` noiseCancellationLevel="${noiseCancellationLevel}"` : ''}` : '';
  return `${noise}${extra.length ? ` extraHeaders="${escapeXml(extra.join(','))}"` : ''}`;
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

/** How long a transfer target rings before the transfer fails (`no-answer`). */
export const TRANSFER_RING_SECONDS = 30;

/**
 * Transfers the call to `target` (E.164 as `<Number>`, a SIP URI as `<User>`): Plivo posts the dial's progress to
 * `callbackUrl` (`DialAction`) and, when the dial ends, `action` (`DialStatus`), whose XML runs next.
 */
export function dialXml(target: string, urls: { readonly action: string; readonly callbackUrl: string }, dialtone: boolean): string {
  const element = target.startsWith('sip:') ? 'User' : 'Number';
  return (
    `${PROLOG}<Response><Dial action="${escapeXml(urls.action)}" method="POST" callbackUrl="${escapeXml(urls.callbackUrl)}" callbackMethod="POST" ` +
    `timeout="${TRANSFER_RING_SECONDS}"${dialtone ? ' dialMusic="real"' : ''}><${element}>${escapeXml(target)}</${element}></Dial></Response>`
  );
}

/** Hangs the call up: a transfer target that talked and hung up ends the call. */
export const HANGUP_XML = `${PROLOG}<Response><Hangup/></Response>`;

export const HANGUP_REJECTED_XML = `${PROLOG}<Response><Hangup reason="rejected"/></Response>`;

/** The answer to a hangup or stream status callback: nothing to do. */
export const EMPTY_RESPONSE_XML = `${PROLOG}<Response/>`;
