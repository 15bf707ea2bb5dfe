import { MEDIA_COUNTS, MEDIA_METRICS } from '../../core/metrics';
import { mulawEncode } from '../../core/mulaw';
import { concat, tone } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { closedPort } from '../support/agents';
import { flatCalls } from '../support/calls';
import { apiRequest, localProcessPerFile, waitFor } from '../support/local-process';

/**
 * The media-quality metrics through `npm start`'s real media server: a simulated call whose audio comes in a burst,
 * then too full (speech, then silence), then not at all, routed to an agent nobody answers. The server's `media metrics` lines (CloudWatch
 * EMF, one per report, never per call or frame) carry exactly what the call's own close line counted.
 */
const local = localProcessPerFile('e2e-quality-');
const api = (method: string, path: string, body?: unknown) => apiRequest(local.stack, method, path, body);

type Line = Record<string, unknown> & { msg: string };
const lines = (): Line[] =>
  local.stack
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);

it('counts underruns, dropped frames, skipped quiet frames and failed agent dials into the EMF reports, by region', async () => {
  const agent = await api('POST', '/v2/agents', { name: 'nobody home', url: `ws://127.0.0.1:${await closedPort()}/agent`, sampleRate: 16000 });
  expect(agent.status).toBe(201);
  const rule = await api('POST', '/v2/sip/routing-rule', { name: 'quality', type: 'inbound', phoneNumbers: ['+14155550177'], room: { type: 'dynamic' }, agentId: agent.body.id });
  expect(rule.status).toBe(201);
  const call = new SimulatedCall({ answerUrl: local.stack.info.connector.webhookUrl, to: '14155550177' });
  await call.start();

  // 80 frames in one message: the stream's jitter buffer holds 50, the 30 oldest are dropped.
  const burst = mulawEncode(tone(700, 1.6));
  call.send({ event: 'media', sequenceNumber: 1, streamId: call.streamId, media: { track: 'inbound', timestamp: '0', chunk: 1, payload: Buffer.from(burst).toString('base64') } });
  // Then real time on top of a full buffer: far over its target, so its first quiet frame (the silence after the tone)
  // is skipped, back towards its target.
  await call.play(concat([tone(700, 2.5), new Int16Array(8000)]));
  // Then nothing: the buffer runs dry.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await waitFor(async () => {
    const { data } = await api('GET', '/v2/sip/call?perPage=100');
    return flatCalls({ data }).find((c) => c.callUuid === call.callUuid && c.agentStatus === 'unreachable');
  }, 10_000);
  await call.hangup();
  const closed = await waitFor(() => lines().find((line) => line.msg === 'plivo stream closed' && line.callUuid === call.callUuid));
  expect(closed.droppedIn).toBeGreaterThanOrEqual(30);
  expect(closed.skippedQuietIn).toBeGreaterThanOrEqual(1);
  expect(closed.underruns).toBeGreaterThanOrEqual(1);

  // Stopping the media server flushes its last counts.
  await local.stack.stop();
  const reports = lines().filter((line) => line.msg === 'media metrics');
  expect(reports.length).toBeGreaterThan(0);
  for (const report of reports) {
    expect(report._aws).toMatchObject({
      CloudWatchMetrics: [{ Namespace: MEDIA_METRICS.namespace, Dimensions: [[MEDIA_METRICS.dimension]], Metrics: expect.arrayContaining(Object.values(MEDIA_COUNTS).map((Name) => ({ Name, Unit: 'Count' }))) }],
    });
    expect(report[MEDIA_METRICS.dimension]).toBe('us002');
  }
  const sum = (name: string) => reports.reduce((total, report) => total + (report[name] as number), 0);
  // The burst's 30 at least: on a loaded machine a late tick can leave a real-time frame to find the buffer full too.
  expect(sum(MEDIA_COUNTS.droppedFramesIn)).toBeGreaterThanOrEqual(30);
  expect(sum(MEDIA_COUNTS.droppedFramesIn) + sum(MEDIA_COUNTS.trimmedFrames)).toBe(closed.droppedIn);
  expect(sum(MEDIA_COUNTS.skippedQuietFrames)).toBe(closed.skippedQuietIn);
  expect(sum(MEDIA_COUNTS.underruns)).toBe(closed.underruns);
  expect(sum(MEDIA_COUNTS.agentDialsFailed)).toBe(1);
  expect(sum(MEDIA_COUNTS.droppedFramesOut)).toBe(closed.droppedOut);
  expect(sum(MEDIA_COUNTS.recordingsFailed)).toBe(0);
}, 60_000);
