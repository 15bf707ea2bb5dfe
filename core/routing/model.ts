import { createHash } from 'node:crypto';
import { randomString } from '../ids';
import type { RuleBody } from './schema';

/** An AI agent the bridge dials into the room when a call joins. */
export type AgentSpec = NonNullable<RuleBody['agent']>;

/** A routing rule: which calls it takes (all `match` criteria must hold) and where it sends them. */
export interface RoutingRule extends Omit<RuleBody, 'agent'> {
  readonly id: string;
  readonly tenant: string;
  readonly agent: AgentSpec | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type RoutingRuleView = Omit<RoutingRule, 'tenant'>;

export function toRuleView({ tenant: _tenant, ...view }: RoutingRule): RoutingRuleView {
  return view;
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

export function ruleMatches(rule: Pick<RoutingRule, 'match'>, call: CallParties): boolean {
  const { phoneNumbers, callerPatterns } = rule.match;
  if (phoneNumbers?.length && !phoneNumbers.some((n) => digits(n) === digits(call.to))) return false;
  if (callerPatterns?.length && !callerPatterns.some((p) => patternMatches(p, digits(call.from)))) return false;
  return true;
}

/** Rules in the order they are tried: lower priority number first, then the older rule. */
export function byPriority(a: RoutingRule, b: RoutingRule): number {
  return a.priority - b.priority || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
}

/**
 * The room a rule sends this call to. A dynamic room is fresh per call, and the same for a retry of
 * the same call (derived from its CallUUID), except `random`.
 */
export function roomFor(rule: Pick<RoutingRule, 'room'>, call: CallParties): string {
  if (rule.room.type === 'static') return rule.room.id;
  const perCall = createHash('sha256').update(call.callUuid).digest('hex').slice(0, 12);
  switch (rule.room.prefix) {
    case 'call':
      return `call-${perCall}`;
    case 'participantNumber':
      return `${digits(call.from) || 'anonymous'}-${perCall}`;
    case 'sipNumber':
      return `${digits(call.to) || 'unknown'}-${perCall}`;
    case 'random':
      return `room-${randomString('0123456789abcdefghjkmnpqrstvwxyz', 16)}`;
  }
}
