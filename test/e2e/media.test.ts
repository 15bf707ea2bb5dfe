import { mulawEncode } from '../../core/mulaw';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { apiRequest, localProcessPerFile, waitFor } from '../support/local-process';
import { expectPairHearsEachOther } from '../support/media-servers';
import { flatCall, flatCalls } from '../support/calls';
import type { CallView } from '../../core/calls/model';

/**
 * The media plane end to end, through `npm start`'s real processes: simulated Plivo calls (signed
 * Answer URL POST, `<Stream>` XML, the audio WebSocket) into the demo connector's room.
 */
const local = localProcessPerFile('e2e-media-');

const api = (method: string, path: string, body?: unknown) => apiRequest(local.stack, method, path, body);

/** A connector of the demo tenant whose calls all go to `room`. */
async function connectorFor(room: string, plivoAuthToken?: string): Promise<string> {
  const { data } = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: room, ...(plivoAuthToken && { plivoAuthToken }) });
  return data.webhookUrl as string;
}

/** The audio a call received after its first `skip` frames (the room's start-up), as PCM. */
const heard = (call: SimulatedCall, skip = 10): Int16Array => call.receivedPcm().subarray(skip * 160);

it('two callers in one room hear each other, and not themselves', async () => {
  const answerUrl = await connectorFor('e2e-pair');
  const a = new SimulatedCall({ answerUrl, from: '14155550101' });
  const b = new SimulatedCall({ answerUrl, from: '14155550102' });
  await Promise.all([a.start(), b.start()]);
  await expectPairHearsEachOther(a, b);
  await Promise.all([a.hangup(), b.hangup()]);
}, 30_000);

it("moves the call record to answered on join and ended on the caller's hangup", async () => {
  const answerUrl = await connectorFor('e2e-record');
  const call = new SimulatedCall({ answerUrl });
  await call.start();
  await call.play(tone(800, 0.2));
  const callId = await waitFor(async () => {
    const { data } = await api('GET', `/v2/sip/call?roomId=e2e-record`);
    const found = flatCalls({ data }).find((c) => c.callUuid === call.callUuid && c.status === 'answered');
    return found?.id;
  });
  await call.hangup();
  const ended = await waitFor(async () => {
    const { data } = await api('GET', `/v2/sip/call/${callId}`);
    return data.status === 'ended' ? flatCall(data as unknown as CallView) : undefined;
  });
  // The caller's stream stops, then Plivo posts its hangup: whichever the record hears first names the reason.
  expect(ended).toMatchObject({ status: 'ended', hangupReason: expect.stringMatching(/^(caller-hangup|NORMAL_CLEARING)$/), roomId: 'e2e-record' });
  expect(typeof ended.answeredAt).toBe('string');
  expect(ended.durationSeconds).toBeGreaterThanOrEqual(0);
}, 30_000);

it('refuses a used ref, and a start whose callId is not the claimed call', async () => {
  const answerUrl = await connectorFor('e2e-refuse');
  const first = new SimulatedCall({ answerUrl });
  const url = await first.answer();
  await first.connect(url);
  const replay = new SimulatedCall({ answerUrl });
  await expect(replay.connect(url)).rejects.toThrow('stream upgrade refused: 403');
  const unknown = new SimulatedCall({ answerUrl });
  await expect(unknown.connect(url.replace(/ref=[^&]+/, 'ref=nope'))).rejects.toThrow('stream upgrade refused: 401');
  const mismatched = new SimulatedCall({ answerUrl });
  await mismatched.connect(await mismatched.answer(), 'not-the-call-uuid');
  await mismatched.closed();
  expect(mismatched.closeCode).toBe(4403);
  await first.hangup();
}, 30_000);

it('checks the Plivo signature on the stream upgrade when the connector holds an auth token', async () => {
  const authToken = 'MAE2EAUTHTOKEN0123456789abcdefghijklmnop';
  const answerUrl = await connectorFor('e2e-signed', authToken);
  const signed = new SimulatedCall({ answerUrl, authToken });
  await signed.start();
  const unsigned = new SimulatedCall({ answerUrl, authToken });
  const url = await unsigned.answer();
  await expect(new SimulatedCall({ answerUrl }).connect(url)).rejects.toThrow('stream upgrade refused: 403');
  await unsigned.connect(url); // the refused attempt did not use up the claim
  await Promise.all([signed.hangup(), unsigned.hangup()]);
}, 30_000);

it('survives malformed stream messages: counted and logged, the call goes on', async () => {
  const answerUrl = await connectorFor('e2e-garbage');
  const a = new SimulatedCall({ answerUrl });
  const b = new SimulatedCall({ answerUrl });
  await Promise.all([a.start(), b.start()]);
  for (const junk of ['not json', '[]', 'null', '{"event":"media"}', '{"event":"media","media":{"payload":"***"}}', '{"event":"dtmf","dtmf":{"digit":"XY"}}', '{"event":"surprise"}']) a.sendRaw(junk);
  a.sendRaw(Buffer.from([1, 2, 3]));
  await a.play(tone(1000, 0.8));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(toneLevel(heard(b, 5), 1000)).toBeGreaterThan(4000);
  expect(a.closeCode).toBeNull();
  await Promise.all([a.hangup(), b.hangup()]);
}, 30_000);

it('re-cuts payloads that are not 20 ms frames', async () => {
  const answerUrl = await connectorFor('e2e-odd');
  const a = new SimulatedCall({ answerUrl });
  const b = new SimulatedCall({ answerUrl });
  await Promise.all([a.start(), b.start()]);
  // 100-byte payloads: re-cut into 160-byte frames by the ingest.
  const pcm = tone(500, 1);
  const codes = mulawEncode(pcm);
  for (let i = 0; i + 100 <= codes.length; i += 100) {
    a.send({ event: 'media', streamId: a.streamId, media: { track: 'inbound', payload: Buffer.from(codes.subarray(i, i + 100)).toString('base64') } });
    await new Promise((resolve) => setTimeout(resolve, 12));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(toneLevel(heard(b, 5), 500)).toBeGreaterThan(3000);
  await Promise.all([a.hangup(), b.hangup()]);
}, 30_000);
