/**
 * The loopback agent: whatever the room says, it sends straight back, so a caller hears themselves 40-60 ms late.
 *
 *   node --import tsx agent-kit/examples/echo.ts --port 9000
 *   curl -X POST "$API/v2/agents" ... -d '{"name": "echo", "url": "ws://127.0.0.1:9000"}'
 */
import { serve } from './serve';

void serve({}, () => (session) => {
  session.on('audio', (pcm) => void session.send(pcm));
});
