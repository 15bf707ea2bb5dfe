import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../../core/log';
import { INTERNAL_ERROR } from './close-codes';

/**
 * A connection's guard. Every callback that ws, net, http or a timer calls for the connection is wrapped in it
 * (`guard(fn)`, or `guard.run(fn)` at once), and every promise it starts is watched (`guard.watch`): a throw or a
 * rejection is logged with the connection's ids and ends this one connection. Uncaught, it would end the process
 * and every tenant's calls on it.
 */
export interface Guard {
  <A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => void;
  run(fn: () => unknown): void;
  watch(promise: Promise<unknown>): void;
}

export function guard(log: Logger, what: string, end: () => void): Guard {
  const failed = (err: unknown): void => {
    try {
      log.error(`${what} failed: the connection is ended`, { err });
    } catch {
      // A record that cannot be written (a value JSON cannot hold) must not end the process either.
    }
    try {
      end();
    } catch {
      // Ending a connection that is already gone.
    }
  };
  const call = (fn: () => unknown): void => {
    try {
      const result = fn();
      if (result instanceof Promise) result.catch(failed);
    } catch (err) {
      failed(err);
    }
  };
  const wrap = <A extends unknown[]>(fn: (...args: A) => unknown) => (...args: A): void => call(() => fn(...args));
  return Object.assign(wrap, { run: call, watch: (promise: Promise<unknown>) => void promise.catch(failed) });
}

/** A guard that closes a WebSocket with 1011. */
export const socketGuard = (ws: WebSocket, log: Logger, what: string): Guard => guard(log, what, () => ws.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason));

/** A guard for a connection not upgraded yet (or plain HTTP): it is dropped. */
export const streamGuard = (socket: Duplex, log: Logger, what: string): Guard => guard(log, what, () => socket.destroy());
