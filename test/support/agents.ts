import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RoomPeer } from '../../tools/room-peer';

/**
 * A real WebSocket agent server on 127.0.0.1 for the tests of one file or `describe` (started before them, closed
 * after; `npm start` lets agents be at loopback addresses): every socket a media server dials to it, as a room peer.
 */
export function agentServerPerFile(): { readonly dialled: readonly RoomPeer[]; port(): number } {
  let agents: WebSocketServer | undefined;
  const dialled: RoomPeer[] = [];
  beforeAll(async () => {
    agents = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    agents.on('connection', (ws: WebSocket) => dialled.push(new RoomPeer(ws, 16000)));
    await new Promise((resolve) => agents?.once('listening', resolve));
  });
  afterAll(() => new Promise((resolve) => (agents ? agents.close(resolve) : resolve(undefined))));
  return { dialled, port: () => (agents?.address() as AddressInfo).port };
}

/** A loopback port nothing listens on: a connection there (an agent, a dependency that is down) is refused at once. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
