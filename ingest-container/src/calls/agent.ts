import { setTimeout as sleep } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { newParticipantId } from '../../../core/ids';
import type { Logger } from '../../../core/log';
import type { AgentDial } from '../../../core/agents/schema';
import { CLOSE } from '../transport/close-codes';
import { openSocket } from '../transport/open-socket';
import type { Room } from '../room/room';
import { RoomSocket, type Welcome } from '../room/socket';

export interface DialOptions {
  /** Waits before the second and third attempts: a failed connect is retried twice. */
  readonly retryDelaysMs: readonly number[];
  readonly connectTimeoutMs: number;
  /**
   * An agent that closes this soon after accepting, having sent nothing, did not really answer: the attempt
   * failed and is retried (an agent that crashes on connect, a proxy that accepts for a dead backend).
   */
  readonly settleMs: number;
  /** Agents may only be at public addresses (not the instance metadata service, not this VPC). */
  readonly publicOnly: boolean;
}

export const DIAL_DEFAULTS: DialOptions = { retryDelaysMs: [250, 1000], connectTimeoutMs: 3000, settleMs: 1000, publicOnly: true };

/** An agent may send speech ahead of real time; 1 MB is a generous bound on one message. */
const AGENT_MAX_PAYLOAD = 1024 * 1024;

/** True once the agent sent something or stayed `settleMs`; false if it closed first. */
function answered(ws: WebSocket, settleMs: number, signal: AbortSignal): Promise<boolean> {
  if (ws.readyState !== ws.OPEN) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      clearTimeout(timer);
      ws.off('message', sent).off('close', closed);
      signal.removeEventListener('abort', sent);
      resolve(ok);
    };
    const sent = done(true);
    const closed = done(false);
    const timer = setTimeout(sent, settleMs);
    ws.once('message', sent).once('close', closed);
    // The call ended: whatever the agent does now, the call's close hangs it up.
    signal.addEventListener('abort', sent, { once: true });
  });
}

/**
 * Dials an agent into `room` over the room protocol (or the room `room()` finds once the agent answered: a room with
 * nobody in it yet may be emptied and made anew while dialling): a routing rule's, whose first message (`joined`) names
 * the call and carries the rule's metadata, or a dispatched one's, naming its job. A failed connect (refused, no
 * answer in time, an HTTP status or a redirect instead of the upgrade, a TLS or handshake fault, a close right after
 * accepting, an address that is not public) is retried twice with backoff; null when every attempt failed or `signal`
 * aborted (the call ended first). Never throws.
 */
export async function dialAgent(
  agent: AgentDial,
  room: Room | (() => Room),
  welcome: Welcome,
  log: Logger,
  signal: AbortSignal,
  options = DIAL_DEFAULTS,
): Promise<RoomSocket | null> {
  const delays = [0, ...options.retryDelaysMs];
  for (const [attempt, delay] of delays.entries()) {
    try {
      if (delay) await sleep(delay, undefined, { signal });
      const ws = await openSocket(agent.url, { timeoutMs: options.connectTimeoutMs, maxPayload: AGENT_MAX_PAYLOAD, signal, publicOnly: options.publicOnly });
      if (signal.aborted) {
        ws.close(CLOSE.ended, 'call ended');
        return null;
      }
      const id = newParticipantId('ag_');
      let socket: RoomSocket;
      try {
        socket = new RoomSocket(ws, typeof room === 'function' ? room() : room, { id, kind: 'agent', rate: agent.sampleRate, log: log.child({ participantId: id }), welcome });
      } catch (err) {
        ws.terminate();
        throw err;
      }
      if (await answered(ws, options.settleMs, signal)) return socket;
      log.warn('agent connect failed', { attempt: attempt + 1, of: delays.length, err: 'the agent closed right after accepting' });
    } catch (err) {
      if (signal.aborted) return null;
      log.warn('agent connect failed', { attempt: attempt + 1, of: delays.length, err });
    }
  }
  return null;
}
