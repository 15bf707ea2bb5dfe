import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Authenticator } from '../../core/auth';
import { ApiError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { admitParticipant } from './admission/participant';
import { admitPlivo, type PlivoAdmissionDeps } from './admission/plivo';
import { admitRelayed } from './admission/relayed';
import type { RoomGate } from './admission/room-gate';
import { idsOf, type Join } from './admission/join';
import type { RelayAuth } from './cluster/relay-auth';
import type { Seating } from './cluster/seating';
import type { ConsoleFiles } from './console';
import type { Connections } from './server';
import { streamGuard } from './transport/guard';
import { Refusal, refuse } from './transport/refuse';

export interface IngressDeps {
  readonly plivo: Omit<PlivoAdmissionDeps, 'onClaimRefused'>;
  /** Checks room participants' tokens. */
  readonly auth: Authenticator;
  /** Refuses participants of deactivated rooms. */
  readonly rooms: RoomGate;
  /** Checks that peers relaying joins here read the region's table. */
  readonly relayAuth: RelayAuth;
  readonly seating: Seating;
  readonly connections: Connections;
  readonly console: ConsoleFiles;
  readonly log: Logger;
}

const ROOMS_PATH = /^\/rooms\/([^/]+)$/;

/**
 * Where every request and upgrade enters the media server, along the data path: admission (who is joining what),
 * seating (where its room is), then the live connection. Plivo's streams (`/plivo?ref=...`) and room participants
 * (`/rooms/{roomId}`) come in on the public port, joins relayed by peers on the relay port. Every upgrade is
 * authorised and seated before it is accepted; a refusal is an HTTP status with a JSON `{message, code}`.
 */
export class Ingress {
  constructor(private readonly deps: IngressDeps) {}

  /** Serves the web console (`GET /console`) and `GET /health`; false when the request is for neither. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path !== '/health') return this.deps.console.serve(path, req, res);
    this.deps.connections.health(res, false);
    return true;
  }

  /** Handles a public upgrade; false when the path is not the media server's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://media');
    } catch {
      return false;
    }
    const room = ROOMS_PATH.exec(url.pathname);
    if (url.pathname !== '/plivo' && !room) return false;
    socket.on('error', () => socket.destroy());
    const log = this.deps.log.child({ path: url.pathname });
    const guarded = streamGuard(socket, log, 'media upgrade');
    const admitted = async (): Promise<void> => {
      this.deps.connections.checkOpen(false);
      const join = room ? await admitParticipant(req, url, room[1] as string, this.deps.auth, this.deps.rooms) : await admitPlivo(req, url, this.plivo);
      await this.seat(join, false, req, socket, head, this.deps.log.child(idsOf(join)));
    };
    guarded.watch(
      this.deps.connections.admit(admitted()).catch((err: unknown) => {
        if (err instanceof ApiError) {
          this.deps.log.warn('media upgrade refused', { status: err.status, code: err.code, what: err.message, path: url.pathname, ...(err instanceof Refusal && err.ids) });
          return refuse(socket, err);
        }
        this.deps.log.error('media upgrade failed', { err, path: url.pathname });
        refuse(socket, new Refusal('unavailable', 'The media server could not check this connection; try again'));
      }),
    );
    return true;
  }

  /**
   * The internal relay port: a peer relays a connection it authorised for a room placed here. The peer proves it
   * reads the region's table with this server's relay secret; the room must still be here.
   */
  handleRelayUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let admitted: { join: Join; from: string };
    try {
      admitted = admitRelayed(req, this.deps.relayAuth);
      // A draining server still seats joiners of its own rooms: their calls finish here.
      this.deps.connections.checkOpen(true);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      if (err.status === 403) this.deps.log.warn('relayed connection refused', { why: err.message, status: err.status });
      return refuse(socket, err);
    }
    const { join, from } = admitted;
    const log = this.deps.log.child({ ...idsOf(join), relayedFrom: from });
    streamGuard(socket, log, 'relayed seating').watch(
      this.deps.connections.admit(this.seat(join, true, req, socket, head, log)).catch((err: unknown) => {
        if (!(err instanceof Refusal)) throw err;
        refuse(socket, err);
      }),
    );
  }

  private get plivo(): PlivoAdmissionDeps {
    const { connections } = this.deps;
    return { ...this.deps.plivo, onClaimRefused: () => connections.counters.claimFailures++ };
  }

  private async seat(join: Join, relayed: boolean, req: IncomingMessage, socket: Duplex, head: Buffer, log: Logger): Promise<void> {
    const guarded = streamGuard(socket, log, relayed ? 'relayed seating' : 'seating');
    const seated = await this.deps.seating.seat(join, relayed, socket, guarded, log);
    this.deps.connections.upgrade(req, socket, head, join, seated, relayed, log);
  }
}
