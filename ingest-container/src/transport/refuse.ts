import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '../../../core/errors';

/**
 * Why an upgrade is refused before it is accepted, each with its HTTP status: the `code` of the JSON body
 * `{message, code}`, stable for clients to act on (`docs/room-protocol.md`, "Refused joins", lists them).
 */
export const REFUSALS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  /** The room was deactivated (`POST /v2/rooms/deactivate`): it cannot be joined again. */
  room_deactivated: 403,
  not_found: 404,
  /** A relayed join for a room no longer placed on this server: the entry server places it again. */
  room_not_here: 409,
  claim_expired: 410,
  room_full: 429,
  room_limit: 429,
  connection_limit: 429,
  draining: 503,
  shutting_down: 503,
  /** This media server holds `MAX_CONNECTIONS`: connecting again may reach another. */
  server_full: 503,
  /** The server could not check the connection (a store or the key service failed): try again. */
  unavailable: 503,
} as const;

export type RefusalCode = keyof typeof REFUSALS;

/** An upgrade refused with one of `REFUSALS`; `ids` (a call's, say) go into the log line that records it. */
export class Refusal extends ApiError {
  constructor(
    code: RefusalCode,
    message: string,
    readonly ids: Readonly<Record<string, string>> = {},
  ) {
    super(REFUSALS[code], code, message);
  }
}

/** Answers an upgrade request with an HTTP error instead of switching protocols, and closes the connection. */
export function refuse(socket: Duplex, { status, code, message }: Pick<ApiError, 'status' | 'code' | 'message'>): void {
  const body = JSON.stringify({ message, code });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
