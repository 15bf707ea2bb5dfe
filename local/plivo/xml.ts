import { XMLParser } from 'fast-xml-parser';

/**
 * The Plivo XML the emulator runs (protocol reference, sections 3 and 7): `<Stream>`, `<Dial>` with `<Number>` or
 * `<User>`, and `<Hangup>`. Any other element (Speak, Play, Wait ...) is skipped: the connector answers none of them.
 */
export type CallbackMethod = 'GET' | 'POST';

export interface StreamInstruction {
  readonly verb: 'Stream';
  readonly url: string;
  /** Plivo's default is false: the XML after the Stream runs at once, and the call ends when the XML does. */
  readonly keepCallAlive: boolean;
  readonly statusCallbackUrl: string | null;
  readonly statusCallbackMethod: CallbackMethod;
  /** `extraHeaders` (`k=v,k2=v2`) as Plivo hands them to the stream's `start`: `k=v;k2=v2`; '' when none. */
  readonly extraHeaders: string;
}

export interface DialTarget {
  readonly kind: 'Number' | 'User';
  readonly value: string;
}

export interface DialInstruction {
  readonly verb: 'Dial';
  readonly targets: readonly DialTarget[];
  readonly action: string | null;
  readonly method: CallbackMethod;
  readonly callbackUrl: string | null;
  readonly callbackMethod: CallbackMethod;
  readonly timeoutSeconds: number;
}

export interface HangupInstruction {
  readonly verb: 'Hangup';
  readonly reason: string | null;
}

export type Instruction = StreamInstruction | DialInstruction | HangupInstruction;

/**
 * How long a `<Dial>` rings when it says no `timeout`. The reference shows `timeout="30"` without naming a default:
 * the emulator's choice.
 */
export const DEFAULT_DIAL_TIMEOUT_SECONDS = 30;

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', trimValues: true, parseTagValue: false, parseAttributeValue: false });

const nameOf = (node: Node): string | undefined => Object.keys(node).find((key) => key !== ':@');
const childrenOf = (node: Node): Node[] => {
  const name = nameOf(node);
  const children = name === undefined ? undefined : node[name];
  return Array.isArray(children) ? (children as Node[]) : [];
};
const textOf = (node: Node): string =>
  childrenOf(node)
    .map((child) => (typeof child['#text'] === 'string' ? child['#text'] : ''))
    .join('')
    .trim();
const method = (value: string | undefined): CallbackMethod => (value?.toUpperCase() === 'GET' ? 'GET' : 'POST');

function instruction(node: Node): Instruction | null {
  const attributes = node[':@'] ?? {};
  switch (nameOf(node)) {
    case 'Stream':
      return {
        verb: 'Stream',
        url: textOf(node),
        keepCallAlive: attributes.keepCallAlive === 'true',
        statusCallbackUrl: attributes.statusCallbackUrl || null,
        statusCallbackMethod: method(attributes.statusCallbackMethod),
        extraHeaders: (attributes.extraHeaders ?? '').split(',').filter(Boolean).join(';'),
      };
    case 'Dial': {
      const timeout = Number(attributes.timeout);
      return {
        verb: 'Dial',
        targets: childrenOf(node).flatMap((child): DialTarget[] => {
          const kind = nameOf(child);
          return kind === 'Number' || kind === 'User' ? [{ kind, value: textOf(child) }] : [];
        }),
        action: attributes.action || null,
        method: method(attributes.method),
        callbackUrl: attributes.callbackUrl || null,
        callbackMethod: method(attributes.callbackMethod),
        timeoutSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : DEFAULT_DIAL_TIMEOUT_SECONDS,
      };
    }
    case 'Hangup':
      return { verb: 'Hangup', reason: attributes.reason || null };
    case undefined:
    default:
      return null;
  }
}

/** The instructions of a `<Response>` document, in order; null when it is not Plivo XML (Plivo's error 8011). */
export function parsePlivoXml(xml: string): Instruction[] | null {
  let document: Node[];
  try {
    document = parser.parse(xml) as Node[];
  } catch {
    return null;
  }
  const response = document.find((node) => nameOf(node) === 'Response');
  if (!response) return null;
  return childrenOf(response)
    .map(instruction)
    .filter((step): step is Instruction => step !== null);
}
