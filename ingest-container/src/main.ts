import { ConfigError } from '../../core/config';
import { createLogger } from '../../core/log';
import { startMediaServer } from './app';
import { loadMediaConfig } from './config';
import { acceptHandOffs } from './handoff';

/**
 * The media server's entry point (and each of `npm start`'s media servers): SIGTERM drains (ECS stops
 * a task that way), SIGINT stops at once (Ctrl-C). Started by `npm start`, it reports its ports and its draining
 * over IPC, serves the connections its balancer hands over, and stops when that parent goes away.
 */
async function main(): Promise<void> {
  const config = loadMediaConfig(process.env);
  const log = createLogger(config.control.logLevel, { service: 'media', region: config.region });
  const node = await startMediaServer(config, log, process.env.ECS_AGENT_URI);
  const exit = (how: string, ending: () => Promise<void>) => () => {
    log.info('stopping', { how });
    Promise.resolve().then(ending).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('stop failed', { err });
        process.exit(1);
      },
    );
  };
  process.once(
    'SIGTERM',
    exit('SIGTERM: draining', () => {
      // As ECS takes a stopping task out of its target group: the balancer sends no new connection from now.
      if (process.connected) process.send?.({ type: 'draining' });
      return node.drain();
    }),
  );
  process.once('SIGINT', exit('SIGINT', () => node.close()));
  if (process.send) {
    acceptHandOffs(node.publicServer, log);
    process.once('disconnect', exit('parent gone', () => node.close()));
    process.send({ type: 'ready', serverId: node.serverId, port: node.port, relayPort: node.relayPort });
  }
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? String((err as Error).message) : err;
  createLogger('info', { service: 'media' }).error('media server failed to start', { err: message });
  process.exit(1);
});
