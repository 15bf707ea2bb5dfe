import { createHash } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { ControlPlaneConfig } from '../config';
import type { Connector } from '../connectors/model';
import type { TenantDocument } from '../documents';
import type { Params } from '../plivo/signature';
import { randomString } from '../ids';
import type { RuleBody } from './schema';

/** The room a rule sends calls to; null only for an outbound rule saved without one. */
export type RuleRoom = NonNullable<RuleBody['room']>;

/** A routing rule: an inbound rule takes the calls to its `phoneNumbers` (or those its connector defaults to it). */
export interface RoutingRule extends TenantDocument, Omit<RuleBody, 'room'> {
  readonly room: RuleRoom | null;
}

/** As the API shows it: `numbers` repeats `phoneNumbers`, as VideoSDK's rule has it. */
export type RoutingRuleView = Omit<RoutingRule, 'tenant'> & { readonly numbers: readonly string[] };

export function toRuleView({ tenant: _tenant, ...rule }: RoutingRule): RoutingRuleView {
  return { ...rule, numbers: rule.phoneNumbers };
}

export interface CallParties {
  readonly callUuid: string;
  readonly from: string;
  readonly to: string;
}

/** Plivo sends numbers with or without `+` (and SIP URIs); rules compare digits only. */
const digits = (value: string): string => value.replace(/\D/g, '');

function patternMatches(pattern: string, number: string): boolean {
  // `*` stands for any run of digits; everything else must match digit for digit.
  const source = pattern.replace(/\+/g, '').split('*').map((part) => part.replace(/\D/g, '')).join('\\d*');
  return new RegExp(`^${source}$`).test(number);
}

/** Whether the inbound rule takes calls to `to`. */
export const holdsNumber = (rule: Pick<RoutingRule, 'type' | 'phoneNumbers'>, to: string): boolean =>
  rule.type === 'inbound' && digits(to) !== '' && rule.phoneNumbers.some((number) => digits(number) === digits(to));

/** Whether the rule lets `from` call: any caller when `allowedNumbers` is empty. */
export const callerAllowed = (rule: Pick<RoutingRule, 'allowedNumbers'>, from: string): boolean =>
  rule.allowedNumbers.length === 0 || rule.allowedNumbers.some((pattern) => patternMatches(pattern, digits(from)));

/**
 * The room a rule sends this call to. A dynamic room is fresh per call, and the same for a retry of
 * the same call (derived from its CallUUID), except `random`.
 */
export function roomFor(room: RuleRoom, call: CallParties): string {
  if (room.type === 'static') return room.id;
  const perCall = createHash('sha256').update(call.callUuid).digest('hex').slice(0, 12);
  switch (room.prefix) {
    case 'blank':
      return perCall;
    case 'participantNumber':
      return `${digits(call.from) || 'anonymous'}-${perCall}`;
    case 'sipNumber':
      return `${digits(call.to) || 'unknown'}-${perCall}`;
    case 'random':
      return `room-${randomString('0123456789abcdefghjkmnpqrstvwxyz', 16)}`;
  }
}

/**
 * Custom SIP headers reach the Answer URL as `X-PH-<Name>` fields. At most this many are read and this many become
 * attributes, each value cut to 256 characters, so what the claim carries (and a relayed join's header) stays small.
 */
const MAX_HEADERS = 32;
const MAX_HEADER_VALUE = 256;
/** Names longer than this are passed over: `sip.h.` + the name must fit an attribute name's 64 characters. */
const CUSTOM_HEADER = /^x-ph-[a-z0-9-]{1,53}$/i;

/**
 * The caller's participant attributes the rule asks for from the call's SIP headers (Answer URL fields): each
 * `headersToAttributes` header under its attribute name, and with `includeHeaders` (`SIP_X_HEADERS` or `ALL`: Plivo
 * hands over only the custom `X-PH-` headers, so both mean those) every custom header as `sip.h.<name>`.
 */
export function ruleAttributes(rule: Pick<RoutingRule, 'includeHeaders' | 'headersToAttributes'>, fields: Params): Record<string, string> {
  const headers = new Map<string, string>();
  for (const [name, values] of fields) {
    if (headers.size === MAX_HEADERS) break;
    const value = values[0];
    if (CUSTOM_HEADER.test(name) && value !== undefined) headers.set(name.toLowerCase(), value.slice(0, MAX_HEADER_VALUE));
  }
  const attributes: Record<string, string> = {};
  for (const [header, attribute] of Object.entries(rule.headersToAttributes)) {
    const value = headers.get(header.toLowerCase());
    if (value !== undefined) attributes[attribute] = value;
  }
  if (rule.includeHeaders === 'NONE') return attributes;
  for (const [name, value] of headers) {
    if (Object.keys(attributes).length === MAX_HEADERS) break;
    attributes[`sip.h.${name}`] = value;
  }
  return attributes;
}

/** The connector's region; else that of the caller's (inbound) or callee's (outbound) country; else the home region. */
export function mediaRegionFor(config: Pick<ControlPlaneConfig, 'mediaRegions' | 'homeMediaRegion' | 'countryRegions'>, connector: Connector, number: string): string {
  const { mediaRegions, countryRegions, homeMediaRegion } = config;
  if (connector.region && mediaRegions.some((r) => r.id === connector.region)) return connector.region;
  const dialled = digits(number);
  const country = dialled ? parsePhoneNumberFromString(`+${dialled}`)?.country : undefined;
  return (country && countryRegions[country]) || homeMediaRegion;
}
