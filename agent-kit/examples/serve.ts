/** What both examples share: their command line, their log (one JSON object a line on stdout) and the server's life. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AgentServer, type AgentSession } from '../src';

export function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ at: new Date().toISOString(), event, ...fields }) + '\n');
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/**
 * Parses `--port` (default 9000; 0 picks a free one), `--host` (default 127.0.0.1) and the example's own `options`,
 * gives them to `setup` (once, before listening), starts the agent server, hands each session to the handler `setup`
 * returned after logging its life, and closes on Ctrl-C.
 */
export async function serve(
  options: NonNullable<ParseArgsConfig['options']>,
  setup: (values: Readonly<Record<string, string | boolean | undefined>>) => (session: AgentSession) => void,
): Promise<void> {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ options: { port: { type: 'string', default: '9000' }, host: { type: 'string', default: '127.0.0.1' }, ...options }, strict: true }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, not ${String(values.port)}`);
  const onSession = setup(values as Record<string, string | boolean | undefined>);
  const server = await AgentServer.listen({ port, host: String(values.host) }).catch((err: Error) => fail(`cannot listen on ${String(values.host)}:${port}: ${err.message}`));
  server.on('session', (session) => {
    session.on('joined', (joined) => log('joined', { roomId: joined.roomId, participantId: joined.participantId, sampleRate: joined.sampleRate, call: joined.call, dispatch: joined.dispatch }));
    session.on('error', (err) => log('error', { code: err.code, message: err.message }));
    session.on('close', ({ code }) => log('closed', { roomId: session.joined?.roomId, code }));
    onSession(session);
  });
  server.on('error', (err) => log('error', { message: err.message }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.close().then(() => process.exit(0)));
  log('listening', { url: server.url });
}
