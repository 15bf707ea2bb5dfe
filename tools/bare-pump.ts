import { WebSocketServer } from 'ws';
import { playAudioMessage } from '../ingest-container/src/plivo/protocol';

/**
 * The baseline `bench:media` compares the media server with: a bare `ws` server that parses every Plivo
 * message and answers each `media` event with a `playAudio` of the same payload on the same socket, and
 * does nothing else. That is Node's practical limit for this traffic; whatever the media server spends
 * beyond it is the bridge. Prints `{"port":N}` once listening; stops on SIGINT or SIGTERM.
 */
interface MediaMessage {
  readonly event?: unknown;
  readonly media?: { readonly payload?: unknown };
}

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * 1024, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer) => {
    let message: MediaMessage;
    try {
      message = JSON.parse(data.toString('utf8')) as MediaMessage;
    } catch {
      return;
    }
    const payload = message.media?.payload;
    if (message.event === 'media' && typeof payload === 'string') ws.send(playAudioMessage(payload));
  });
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => {
  const address = wss.address();
  if (address && typeof address === 'object') process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => wss.close(() => process.exit(0)));
