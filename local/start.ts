import { ConfigError } from '../core/config';
import { buildConsole } from '../ingest-container/console/build';
import { createLogger } from '../core/log';
import { loadLocalConfig } from './config';
import { startLocalStack, STATE_FILE } from './stack';

/** `npm start`: runs the local stack until Ctrl-C (or SIGTERM), then stops everything cleanly. */
async function main(): Promise<void> {
  const log = createLogger(loadLocalConfig(process.env).logLevel, { service: 'local' });
  // The console's bundle first: the media servers read it when they start.
  await buildConsole();
  const stack = await startLocalStack(process.env, log);
  const out = (line = '') => process.stdout.write(line + '\n');
  out();
  out('Plivo connector, local stack');
  out(`  API           ${stack.apiUrl}`);
  out(`  Answer URL    ${stack.connector.webhookUrl}   (demo connector ${stack.connector.id}, room demo-room)`);
  out(`  Media         ${stack.mediaUrl}   (Plivo streams at /plivo, room protocol at /rooms/{roomId})`);
  out(`  Console       ${stack.consoleUrl}   (carries the management token: for this machine only)`);
  out(`  Plivo API     ${stack.plivoApiUrl}   (${stack.plivoEmulator ? 'the Plivo Voice API emulator: docs/plivo-emulator.md' : 'PLIVO_API_URL'})`);
  out(`  Data          ${stack.dataDir}   (state in ${STATE_FILE})`);
  out();
  out('  Token (tenant "demo", 24 h):');
  out(`  export VIDEOSDK_TOKEN=${stack.token}`);
  out(`  curl -H "Authorization: Bearer $VIDEOSDK_TOKEN" ${stack.apiUrl}/v2/connectors`);
  out();

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1); // a second Ctrl-C forces it
    stopping = true;
    log.info('stopping', { signal });
    stack.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? String((err as Error).message) : err;
  createLogger('info', { service: 'local' }).error('local stack failed to start', { err: message });
  process.exit(1);
});
