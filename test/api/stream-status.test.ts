import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { callIdFor, type CallView } from '../../core/calls/model';
import { MAX_STREAM_REPORTS } from '../../core/calls/store';
import { EMPTY_RESPONSE_XML, HANGUP_REJECTED_XML } from '../../core/plivo/xml';
import { waitFor } from '../support/local-process';
import { answerFields, newCall, parseAnswer, plivoRequest, signatureHeaders, streamOf, type PlivoCall } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Plivo's stream status callbacks through the real Answer handler of the local stack: V3-signed as Plivo signs them
 * (the official `plivo` package accepts every signature first), posted to the `statusCallbackUrl` the Answer URL put
 * in its `<Stream>`.
 */
let t: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let token: string;
const authToken = 'MASTREAMSTATUSTOKEN0123456789abcdefghijk';

beforeAll(async () => {
  [t, receiver] = await Promise.all([startTestStack(), startReceiver()]);
  token = await t.token('streams');
  expect((await t.api('POST', '/v2/sip/webhooks', { token, body: { url: receiver.url, events: ['call-update'] } })).status).toBe(201);
}, 30_000);
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

async function connector(tenantToken = token, plivoAuthToken = authToken): Promise<{ id: string; webhookUrl: string }> {
  const res = await t.api('POST', '/v2/connectors', { token: tenantToken, body: { provider: 'plivo', defaultRoomId: 'stream-room', plivoAuthToken } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { id: string; webhookUrl: string } }).data;
}

/** A call the Answer URL took (signed), and the status callback URL its `<Stream>` names. */
async function answered(answerUrl: string, call = newCall()): Promise<{ call: PlivoCall; statusUrl: string }> {
  const answer = await parseAnswer(await plivoRequest(answerUrl, answerFields(call), { authToken }));
  expect(answer.status).toBe(200);
  return { call, statusUrl: streamOf(answer).attributes.statusCallbackUrl as string };
}

const statusFields = (call: PlivoCall, event: string, streamId: string, timestamp = '2026-12-04 12:00:00') => ({ Event: event, CallUUID: call.callUuid, StreamID: streamId, Timestamp: timestamp });

async function report(url: string, fields: Record<string, string>, options: Parameters<typeof plivoRequest>[2] = { authToken }): Promise<{ status: number; body: string }> {
  const res = await plivoRequest(url, fields, options);
  return { status: res.status, body: await res.text() };
}

async function shown(id: string, as = token): Promise<CallView> {
  const res = await t.api('GET', `/v2/sip/call/${id}`, { token: as });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: CallView }).data;
}

const updatesOf = (callId: string) => receiver.received.filter((r) => r.payload.webhookType === 'call-update' && (r.payload.data).id === callId);

describe('the <Stream> the Answer URL answers', () => {
  it('names the Answer URL, its query replaced by the call id, as its POST status callback; a retried answer the same', async () => {
    const c = await connector();
    const call = newCall();
    const first = await parseAnswer(await plivoRequest(`${c.webhookUrl}?roomId=other-room`, answerFields(call), { authToken }));
    const retry = await parseAnswer(await plivoRequest(`${c.webhookUrl}?roomId=other-room`, answerFields(call), { authToken }));
    for (const answer of [first, retry]) {
      expect(streamOf(answer).attributes).toMatchObject({ statusCallbackUrl: `${c.webhookUrl}?callId=${callIdFor(call.callUuid)}`, statusCallbackMethod: 'POST' });
    }
  });
});

describe('StartStream and StopStream', () => {
  it('land in the timelog once each, with the StreamID; a retried report changes nothing', async () => {
    const { call, statusUrl } = await answered((await connector()).webhookUrl);
    const streamId = randomUUID();
    expect(await report(statusUrl, statusFields(call, 'StartStream', streamId))).toEqual({ status: 200, body: EMPTY_RESPONSE_XML });
    expect(await report(statusUrl, statusFields(call, 'StartStream', streamId))).toEqual({ status: 200, body: EMPTY_RESPONSE_XML });
    expect(await report(statusUrl, statusFields(call, 'StopStream', streamId, '2026-12-04 12:00:09'))).toEqual({ status: 200, body: EMPTY_RESPONSE_XML });
    const view = await shown(callIdFor(call.callUuid));
    expect(view.timelog).toEqual([
      { status: 'incoming', at: view.start },
      { event: 'stream-started', streamId, at: expect.any(String) },
      { event: 'stream-stopped', streamId, at: expect.any(String) },
    ]);
    expect(view).toMatchObject({ status: 'incoming', additionalDetails: { stream: null } });
    expect(updatesOf(view.id)).toEqual([]);
  });

  it(`stop being recorded past ${MAX_STREAM_REPORTS} reports of a call: the record stays bounded`, async () => {
    const { call, statusUrl } = await answered((await connector()).webhookUrl);
    for (let i = 0; i < MAX_STREAM_REPORTS + 6; i++) {
      expect((await report(statusUrl, statusFields(call, 'StartStream', `s-${i}`, `2026-12-04 12:00:${String(i).padStart(2, '0')}`))).status).toBe(200);
    }
    const view = await shown(callIdFor(call.callUuid));
    expect(view.timelog.filter((entry) => 'event' in entry)).toHaveLength(MAX_STREAM_REPORTS);
    expect(view.timelog.at(-1)).toMatchObject({ streamId: `s-${MAX_STREAM_REPORTS - 1}` });
  }, 30_000);
});

describe('DegradedStream and DroppedStream', () => {
  it('set additionalDetails.stream and fire call-update once per report, with the call as GET shows it; a retry fires nothing', async () => {
    const { call, statusUrl } = await answered((await connector()).webhookUrl);
    const id = callIdFor(call.callUuid);
    const streamId = randomUUID();
    const degraded = statusFields(call, 'DegradedStream', streamId, '2026-12-04 12:00:12');
    expect(await report(statusUrl, degraded)).toEqual({ status: 200, body: EMPTY_RESPONSE_XML });
    const first = await waitFor(() => updatesOf(id)[0], 10_000);
    const view = await shown(id);
    expect(view.additionalDetails.stream).toEqual({ status: 'degraded', streamId, at: expect.any(String), degradedCount: 1 });
    expect(first.payload).toMatchObject({ webhookType: 'call-update', timestamp: view.additionalDetails.stream?.at });
    expect(first.payload.data).toEqual(view);

    // Plivo retries the same report: answered alike, recorded and fired once.
    expect(await report(statusUrl, degraded)).toEqual({ status: 200, body: EMPTY_RESPONSE_XML });
    expect((await shown(id)).additionalDetails.stream).toEqual(view.additionalDetails.stream);

    // Its 60 % report is a new one; then the drop.
    expect((await report(statusUrl, statusFields(call, 'DegradedStream', streamId, '2026-12-04 12:00:24'))).status).toBe(200);
    await waitFor(() => updatesOf(id)[1], 10_000);
    expect((await report(statusUrl, statusFields(call, 'DroppedStream', streamId, '2026-12-04 12:00:40'))).status).toBe(200);
    const dropped = await waitFor(() => updatesOf(id)[2], 10_000);
    expect((dropped.payload.data).additionalDetails.stream).toMatchObject({ status: 'dropped', streamId, degradedCount: 2 });
    await sleep(500);
    expect(updatesOf(id).map((r) => (r.payload.data).additionalDetails.stream?.status)).toEqual(['degraded', 'degraded', 'dropped']);
    expect((await shown(id)).timelog).toEqual(view.timelog);
  }, 30_000);
});

describe('refused', () => {
  it('forged or unsigned reports for a connector with an auth token: 403, nothing recorded', async () => {
    const { call, statusUrl } = await answered((await connector()).webhookUrl);
    const fields = statusFields(call, 'DegradedStream', randomUUID());
    expect(await report(statusUrl, fields, {})).toEqual({ status: 403, body: HANGUP_REJECTED_XML });
    expect((await report(statusUrl, fields, { authToken: 'MAWRONGTOKEN0123456789abcdefghijklmnopq' })).status).toBe(403);
    // Signed for another call's status URL: the query is signed too.
    const other = `${statusUrl.split('?')[0]}?callId=${callIdFor(randomUUID())}`;
    expect((await report(statusUrl, fields, { headers: signatureHeaders(authToken, 'POST', other, fields) })).status).toBe(403);
    await sleep(300);
    const view = await shown(callIdFor(call.callUuid));
    expect(view.additionalDetails.stream).toBeNull();
    expect(updatesOf(view.id)).toEqual([]);
  });

  it("another tenant's call id: 404, and that call is unchanged", async () => {
    const { call: theirs } = await answered((await connector()).webhookUrl);
    const ours = await connector(await t.token('streams-other'), authToken);
    const url = `${ours.webhookUrl}?callId=${callIdFor(theirs.callUuid)}`;
    expect(await report(url, statusFields(theirs, 'DroppedStream', randomUUID()))).toEqual({ status: 404, body: HANGUP_REJECTED_XML });
    expect((await report(url, statusFields(theirs, 'StartStream', randomUUID()))).status).toBe(404);
    const view = await shown(callIdFor(theirs.callUuid));
    expect(view.additionalDetails.stream).toBeNull();
    expect(view.timelog).toHaveLength(1);
  });

  it("a callback naming a call of the tenant's other connector: 404, and that call goes on", async () => {
    const { call } = await answered((await connector()).webhookUrl);
    const sibling = await connector();
    const url = `${sibling.webhookUrl}?callId=${callIdFor(call.callUuid)}`;
    expect(await report(url, { Event: 'Hangup', CallUUID: call.callUuid, CallStatus: 'completed' })).toEqual({ status: 404, body: HANGUP_REJECTED_XML });
    expect((await report(url, statusFields(call, 'DroppedStream', randomUUID()))).status).toBe(404);
    expect(await shown(callIdFor(call.callUuid))).toMatchObject({ status: 'incoming', additionalDetails: { stream: null } });
  });

  it('a call id whose call holds another CallUUID, or none at all: 404, nothing changed', async () => {
    const c = await connector();
    const { call, statusUrl } = await answered(c.webhookUrl);
    const { call: other } = await answered(c.webhookUrl);
    expect((await report(statusUrl, statusFields(other, 'DegradedStream', randomUUID()))).status).toBe(404);
    expect((await report(c.webhookUrl, statusFields(call, 'DegradedStream', randomUUID()))).status).toBe(404);
    expect((await report(`${c.webhookUrl}?callId=not-a-call-id`, statusFields(call, 'DegradedStream', randomUUID()))).status).toBe(404);
    for (const plivoCall of [call, other]) expect((await shown(callIdFor(plivoCall.callUuid))).additionalDetails.stream).toBeNull();
  });
});
