import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ControlPlaneConfig } from '../../core/config';
import { apiDependencies, createApiHandler } from '../../lambdas/api/app';
import { HTTP_FUNCTIONS } from '../../lambdas/routes';
import { createGatewayListener } from '../../local/http-gateway';
import { memoryLog } from './stack';

/** The API function's handler behind the local gateway, in this process, built from `config`; its log lines kept. */
export async function serveApi(config: ControlPlaneConfig): Promise<{ url: string; lines: string[]; close(): Promise<void> }> {
  const { lines, logger } = memoryLog();
  const listener = createGatewayListener(
    [{ routes: HTTP_FUNCTIONS.api.routes, throttle: { rateLimit: 1000, burstLimit: 1000 }, handler: createApiHandler(apiDependencies(config, logger)) }],
    logger,
  );
  const server: Server = createServer((req, res) => void listener(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
