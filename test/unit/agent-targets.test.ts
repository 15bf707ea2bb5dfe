import { WebSocketServer } from 'ws';
import { AgentService } from '../../core/agents/service';
import { DynamoAgentStore } from '../../core/agents/store';
import { createLogger } from '../../core/log';
import { DynamoRoutingRuleStore } from '../../core/routing/store';
import { AGENT_SCHEMES, targetProblem } from '../../core/webhooks/targets';
import { AddressRefused, openSocket } from '../../ingest-container/src/transport/open-socket';
import { startDynaliteBackend, useStoreTable } from '../support/store-backends';

/** Agents the bridge dials follow the webhooks' public-address policy: at registration and again at dial time. */
describe('agent URLs', () => {
  it('must be public wss:// in AWS; ws:// only to localhost in local mode; never with credentials', async () => {
    const aws = (url: string) => targetProblem(url, false, AGENT_SCHEMES);
    expect(await aws('wss://93.184.216.34/agent')).toBeNull();
    expect(await aws('ws://93.184.216.34/agent')).toBe('must be wss');
    for (const url of ['wss://169.254.169.254/latest/meta-data', 'wss://10.0.0.1:8081/', 'wss://[::1]:9000/', 'wss://localhost/x', 'wss://[::ffff:10.0.0.1]/']) {
      expect(await aws(url)).toMatch(/private, loopback or link-local/);
    }
    expect(await aws('wss://user:pass@agent.example.com/')).toBe('must not carry credentials');
    const local = (url: string) => targetProblem(url, true, AGENT_SCHEMES);
    expect(await local('ws://127.0.0.1:9000/agent')).toBeNull();
    expect(await local('ws://10.0.0.1:8081/')).toBe('must be wss (ws only for localhost or 127.0.0.1)');
    expect(await local('ws://a:b@localhost/')).toBe('must not carry credentials');
  });

  describe('at registration (agents, AWS policy)', () => {
    const db = useStoreTable(startDynaliteBackend, 'rules');
    let service: AgentService;
    beforeAll(() => {
      service = new AgentService({ agents: new DynamoAgentStore(db.dynamo, 'rules'), rules: new DynamoRoutingRuleStore(db.dynamo, 'rules'), allowPrivateTargets: false, log: createLogger('error') });
    });
    const agent = (url: string) => ({ name: 'agent', url, sampleRate: 16000 as const, metadata: {} });

    it.each([
      ['wss://169.254.169.254/latest/meta-data', /private, loopback or link-local/],
      ['ws://10.0.0.1:8081/', /must be wss/],
      ['wss://[::1]:9000/', /private, loopback or link-local/],
      ['wss://admin:hunter2@agent.example.com/', /credentials/],
    ])('refuses %s with 400 naming url', async (url, problem) => {
      const refused = service.create('t1', agent(url));
      await expect(refused).rejects.toMatchObject({ status: 400, message: expect.stringMatching(problem), errors: [{ field: 'url', message: expect.stringMatching(problem) }] });
      const kept = await service.create('t1', agent('wss://93.184.216.34/agent'));
      await expect(service.update('t1', kept.id, { url })).rejects.toMatchObject({ status: 400 });
      expect((await service.get('t1', kept.id)).url).toBe('wss://93.184.216.34/agent');
    });
  });

  describe('at dial time', () => {
    let server: WebSocketServer;
    let connections = 0;
    beforeAll(async () => {
      server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
      server.on('connection', (ws) => {
        connections++;
        ws.close();
      });
      await new Promise((resolve) => server.once('listening', resolve));
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));
    const port = () => (server.address() as { port: number }).port;
    const open = (url: string, publicOnly: boolean) => openSocket(url, { timeoutMs: 2000, maxPayload: 1024, publicOnly });

    it('refuses a literal private address and a name that resolves to one (checked on the connection itself), without connecting', async () => {
      await expect(open(`ws://127.0.0.1:${port()}/`, true)).rejects.toBeInstanceOf(AddressRefused);
      await expect(open(`ws://localhost:${port()}/`, true)).rejects.toMatchObject({ code: 'ENOTPUBLIC' });
      expect(connections).toBe(0);
      // The same URLs where private targets are allowed (npm start): they connect.
      (await open(`ws://127.0.0.1:${port()}/`, false)).terminate();
      expect(connections).toBe(1);
    });
  });
});
