import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallView } from '../../core/calls/model';
import { createLogger } from '../../core/log';
import { MEDIA_METRICS } from '../../core/metrics';
import { PlivoVoiceApi, type PlivoCredentials } from '../../core/plivo/voice-api';
import { PlivoEmulator } from '../../local/plivo/emulator';
import { apiRequest, startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Stream status end to end: `npm start` as a process, a Plivo emulator (this process's, so the test holds its account)
 * placing a call whose answer URL is the connector's, Plivo's side run from there: the signed Answer URL request, the
 * `<Stream>` opened to the local media server, StartStream, three DegradedStream (callee `…0006`), StopStream and the
 * hangup, each to the URLs the connector's XML named, each V3-signed with the connector's auth token.
 */
const credentials: PlivoCredentials = { authId: 'MASTREAME2E0000001', authToken: 'MASTREAME2ETOKEN0123456789abcdefghijklm' };
let dataDir: string;
let stack: LocalProcess;
let emulator: PlivoEmulator;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'e2e-stream-status-'));
  [stack, emulator] = await Promise.all([startLocalProcess(dataDir), PlivoEmulator.start({
      log: createLogger('error', {}, () => undefined),
      authTokenOf: (authId) => (authId === credentials.authId ? credentials.authToken : undefined),
    }),
  ]);
}, 30_000);

afterAll(async () => {
  await emulator?.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('a degraded stream fires call-update per report; its start and stop land in the timelog', async () => {
  const receiver = await startReceiver();
  try {
    const api = (method: string, path: string, body?: unknown) => apiRequest(stack, method, path, body);
    expect((await api('POST', '/v2/sip/webhooks', { url: receiver.url, events: ['call-update'] })).status).toBe(201);
    const connector = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'stream-status-e2e', plivoAuthToken: credentials.authToken });
    expect(connector.status).toBe(201);
    const voice = new PlivoVoiceApi({ baseUrl: emulator.url, allowPrivateTargets: true });
    // No hangup_url: Plivo's hangup goes to the answer URL, the connector's.
    await voice.makeCall(credentials, { from: '+14155550100', to: '+14155550006', answerUrl: connector.data.webhookUrl as string });

    const updates = await waitFor(() => (receiver.received.length >= 3 ? receiver.received.slice(0, 3) : undefined), 15_000);
    const calls = updates.map((r) => r.payload.data);
    expect(updates.map((r) => r.payload.webhookType)).toEqual(['call-update', 'call-update', 'call-update']);
    expect(calls.map((c) => c.additionalDetails.stream?.degradedCount).sort()).toEqual([1, 2, 3]);
    const call = calls[0] as CallView;
    expect(calls.every((c) => c.id === call.id && c.additionalDetails.stream?.status === 'degraded')).toBe(true);
    const callUuid = call.additionalDetails.callUuid as string;
    const placed = emulator.call(callUuid);
    expect(placed?.streams[0]?.streamId).toBe(call.additionalDetails.stream?.streamId);

    await voice.hangup(credentials, callUuid);
    const ended = await waitFor(async () => {
      const shown = (await api('GET', `/v2/sip/call/${call.id}`)).data as unknown as CallView;
      return shown.status === 'ended' && shown.timelog.some((e) => 'event' in e && e.event === 'stream-stopped') ? shown : undefined;
    }, 10_000);
    const streamId = placed?.streams[0]?.streamId;
    expect(ended.timelog.filter((e) => 'event' in e)).toEqual([
      { event: 'stream-started', streamId, at: expect.any(String) },
      { event: 'stream-stopped', streamId, at: expect.any(String) },
    ]);
    expect(ended.timelog.filter((e) => 'status' in e).map((e) => ('status' in e ? e.status : null))).toEqual(['incoming', 'answered', 'ended']);
    expect(ended.additionalDetails.stream).toMatchObject({ status: 'degraded', streamId, degradedCount: 3 });
    // Every callback the emulator made was accepted: none refused for its signature, none for its call.
    expect(stack.output()).not.toMatch(/stream status refused|answer refused/);
    // Each degradation is one data point of its media region's StreamsDegraded (CloudWatch EMF), the start and stop none.
    const recorded = stack
      .output()
      .split('\n')
      .filter((line) => line.includes('"msg":"stream status recorded"') && line.includes(callUuid))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const metrics = recorded.filter((line) => '_aws' in line);
    expect(metrics.map((line) => line.event)).toEqual(['degraded', 'degraded', 'degraded']);
    expect(recorded.find((line) => line.event === 'stream-started')).not.toHaveProperty('_aws');
    for (const line of metrics) {
      expect(line).toMatchObject({ [MEDIA_METRICS.dimension]: call.region, [MEDIA_METRICS.streamsDegraded]: 1 });
      expect(line._aws).toMatchObject({ CloudWatchMetrics: [{ Namespace: MEDIA_METRICS.namespace, Dimensions: [[MEDIA_METRICS.dimension]], Metrics: [{ Name: MEDIA_METRICS.streamsDegraded, Unit: 'Count' }] }] });
    }
    expect(receiver.received).toHaveLength(3);
  } finally {
    await receiver.close();
  }
}, 40_000);
