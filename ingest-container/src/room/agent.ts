import { setTimeout as sleep } from 'node:timers/promises';
import { newParticipantId } from '../../../core/ids';
import type { Logger } from '../../../core/log';
import type { AgentSpec } from '../../../core/routing/model';
import { openSocket } from '../open-socket';
import type { Room } from './room';
import { RoomSocket, type Welcome } from './socket';

export interface DialOptions {
  /** Waits before the second and third attempts: a failed connect is retried twice. */
  readonly retryDelaysMs: readonly number[];
  readonly connectTimeoutMs: number;
}

export const DIAL_DEFAULTS: DialOptions = { retryDelaysMs: [250, 1000], connectTimeoutMs: 3000 };

/** An agent may send speech ahead of real time; 1 MB is a generous bound on one message. */
const AGENT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Dials a routing rule's agent into `room` over the room protocol; its first message (`joined`) names
 * the call and carries the rule's metadata. A failed connect is retried twice with backoff; null when
 * every attempt failed or `signal` aborted (the call ended first).
 */
export async function dialAgent(agent: AgentSpec, room: Room, welcome: Welcome, log: Logger, signal: AbortSignal, options = DIAL_DEFAULTS): Promise<RoomSocket | null> {
  const delays = [0, ...options.retryDelaysMs];
  for (const [attempt, delay] of delays.entries()) {
    try {
      if (delay) await sleep(delay, undefined, { signal });
      const ws = await openSocket(agent.url, { timeoutMs: options.connectTimeoutMs, maxPayload: AGENT_MAX_PAYLOAD, signal });
      if (signal.aborted) {
        ws.close(1000, 'call ended');
        return null;
      }
      const id = newParticipantId('ag_');
      return new RoomSocket(ws, room, { id, kind: 'agent', rate: agent.sampleRate, log: log.child({ participantId: id }), welcome });
    } catch (err) {
      if (signal.aborted) return null;
      log.warn('agent connect failed', { attempt: attempt + 1, of: delays.length, err });
    }
  }
  return null;
}
