import type { TenantDocument } from '../documents';
import type { AgentBody, AgentDial } from './schema';

/** A dial target, which a bound on each tenant keeps the rules' references to a size one listing reads. */
export const MAX_AGENTS_PER_TENANT = 100;

/** An AI agent a routing rule dials into the room when a call joins (`agentId`). */
export interface Agent extends TenantDocument, AgentBody {}

export type AgentView = Omit<Agent, 'tenant'>;

export function toAgentView({ tenant: _tenant, ...view }: Agent): AgentView {
  return view;
}

/** What the media server dials for a call: the agent, its metadata overlaid by the routing rule's `agentMetadata`. */
export function agentDial(agent: Pick<Agent, 'url' | 'sampleRate' | 'metadata'>, ruleMetadata: Readonly<Record<string, unknown>> | undefined): AgentDial {
  const metadata = { ...agent.metadata, ...ruleMetadata };
  return { url: agent.url, sampleRate: agent.sampleRate, ...(Object.keys(metadata).length > 0 && { metadata }) };
}
