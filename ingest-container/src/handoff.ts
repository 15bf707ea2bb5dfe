import type { Server } from 'node:http';
import { Socket } from 'node:net';
import type { Logger } from '../../core/log';
import { streamGuard } from './transport/guard';

/**
 * `npm start`'s load balancer reads a connection's request head to choose a media server, then hands that server the
 * connection itself over IPC, with the head it read: the media then flows between the client and this process, never
 * through the balancer. (In AWS the NLB forwards connections; nothing is handed off.)
 */
export interface HandOff {
  readonly type: 'connection';
  /** The bytes the balancer read off the socket (the request head, and any that followed it), base64. */
  readonly head: string;
}

export const handOff = (head: Buffer): HandOff => ({ type: 'connection', head: head.toString('base64') });

const isHandOff = (message: unknown): message is HandOff =>
  typeof message === 'object' && message !== null && (message as HandOff).type === 'connection' && typeof (message as HandOff).head === 'string';

/** Takes the connections the parent hands over: each is put back as it arrived and served by `server`. */
export function acceptHandOffs(server: Server, log: Logger): void {
  process.on('message', (message: unknown, handle: unknown) => {
    if (!(handle instanceof Socket)) {
      if (isHandOff(message)) log.warn('hand-off without a connection: ignored', {});
      return;
    }
    streamGuard(handle, log, 'hand-off').run(() => {
      const head = isHandOff(message) ? Buffer.from(message.head, 'base64') : undefined;
      if (!head?.length) throw new Error('a connection was handed over without its request head');
      // Before the HTTP parser attaches: it reads these bytes first, then the socket's own.
      handle.unshift(head);
      server.emit('connection', handle);
    });
  });
}
