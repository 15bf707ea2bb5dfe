/**
 * The simulated far end of an emulated call, chosen by the last four digits of the number dialled (Make Call's `to`,
 * or a `<Dial>`'s `<Number>`; a `<User>` SIP URI always answers). docs/plivo-emulator.md lists this table (checked by
 * a test). Delays are the emulator's: short, so tests run fast.
 */
export type CalleeKind = 'answer' | 'busy' | 'no-answer' | 'ring' | 'invalid';

export interface CalleeBehaviour {
  readonly kind: CalleeKind;
  /** When the far end answers (`answer`) or refuses (`busy`, `no-answer`, `invalid`), after ringing starts. */
  readonly afterMs: number;
  /** An answered far end hangs up this long after answering; null: it stays until the call is ended. */
  readonly hangUpAfterMs: number | null;
  /**
   * Plivo finds the connector too slow on each stream this callee's call opens: DegradedStream this long after the
   * stream started, then twice more as often (Plivo's 30, 60 and 90 % of its buffer); null: never.
   */
  readonly degradeEveryMs: number | null;
  /** What docs/plivo-emulator.md says of it. */
  readonly description: string;
}

export const ANSWERS: CalleeBehaviour = {
  kind: 'answer',
  afterMs: 200,
  hangUpAfterMs: null,
  degradeEveryMs: null,
  description: 'answers after 200 ms and stays until the call is hung up (or `time_limit`)',
};

export const CALLEE_BEHAVIOURS: Readonly<Record<string, CalleeBehaviour>> = {
  '0001': { kind: 'busy', afterMs: 200, hangUpAfterMs: null, degradeEveryMs: null, description: 'busy after 200 ms: `CallStatus` `busy`, `DialStatus` `busy`' },
  '0002': { kind: 'no-answer', afterMs: 1000, hangUpAfterMs: null, degradeEveryMs: null, description: "the network gives up after 1 s: `CallStatus` `no-answer`, `DialStatus` `no-answer`" },
  '0003': { kind: 'answer', afterMs: 200, hangUpAfterMs: 2000, degradeEveryMs: null, description: 'answers after 200 ms and hangs up 2 s later' },
  '0004': { kind: 'ring', afterMs: 0, hangUpAfterMs: null, degradeEveryMs: null, description: 'rings until `ring_timeout` (or the Dial `timeout`): `CallStatus` `timeout`, `DialStatus` `timeout`' },
  '0005': { kind: 'invalid', afterMs: 0, hangUpAfterMs: null, degradeEveryMs: null, description: 'not a valid number: `CallStatus` `failed`, `DialStatus` `failed`' },
  '0006': { kind: 'answer', afterMs: 200, hangUpAfterMs: null, degradeEveryMs: 1000, description: "answers after 200 ms; its stream is reported degraded (`DegradedStream`) 1, 2 and 3 s after it starts, Plivo's 30, 60 and 90 %" },
};

/** The behaviour of the far end at `number` (digits, with or without `+`; a `sip:` URI always answers). */
export function calleeAt(number: string): CalleeBehaviour {
  if (number.startsWith('sip:')) return ANSWERS;
  return CALLEE_BEHAVIOURS[number.replace(/\D/g, '').slice(-4)] ?? ANSWERS;
}
