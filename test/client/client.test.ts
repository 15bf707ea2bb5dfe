import { Webhook } from 'standardwebhooks';
import { ApiError, createClient, orThrow, verifyStandardSignature, verifyVideosdkSignature, type PlivoConnectorClient } from '../../client/src';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { localProcessPerFile, tenantToken, waitFor } from '../support/local-process';
import { startReceiver, type ReceivedWebhook } from '../support/webhook-receiver';

/** The typed client (client/) against `npm start`'s real process, and its webhook verifier against real deliveries. */
const local = localProcessPerFile('client-');
let client: PlivoConnectorClient;
beforeAll(() => {
  client = createClient({ baseUrl: local.stack.info.apiUrl, token: local.stack.info.token });
});

describe('createClient', () => {
  it('creates a connector, routes a call to it and lists that call, all typed by the OpenAPI document', async () => {
    const created = await orThrow(client.POST('/v2/connectors', { body: { provider: 'plivo', name: 'Typed', defaultRoomId: 'client-room' } }));
    expect(created.data).toMatchObject({ provider: 'plivo', name: 'Typed', defaultRoomId: 'client-room' });
    const fetched = await orThrow(client.GET('/v2/connectors/{id}', { params: { path: { id: created.data.id } } }));
    expect(fetched.data.webhookUrl).toBe(created.data.webhookUrl);

    const call = new SimulatedCall({ answerUrl: created.data.webhookUrl });
    await call.answer();
    const calls = await orThrow(client.GET('/v2/sip/call', { params: { query: { page: 1, perPage: 100 } } }));
    expect(calls.pageInfo.total).toBeGreaterThanOrEqual(1);
    expect(calls.data.find((listed) => listed.additionalDetails.callUuid === call.callUuid)).toMatchObject({ roomId: 'client-room', status: 'incoming', type: 'inbound' });
  });

  it('answers an unknown id, and another tenant\'s, with a typed 404 error', async () => {
    const missing = await client.GET('/v2/connectors/{id}', { params: { path: { id: 'cn_0000000000000000' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.data).toBeUndefined();
    expect(missing.error).toMatchObject({ code: 'not_found' });

    const other = createClient({ baseUrl: local.stack.info.apiUrl, token: await tenantToken(local.dataDir, 'client-other') });
    const theirs = await orThrow(other.POST('/v2/connectors', { body: { provider: 'plivo', defaultRoomId: 'theirs' } }));
    const err = await orThrow(client.GET('/v2/connectors/{id}', { params: { path: { id: theirs.data.id } } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('answers a bad token with a typed 401 error', async () => {
    const stranger = createClient({ baseUrl: local.stack.info.apiUrl, token: 'not-a-token' });
    const { error, response } = await stranger.GET('/v2/sip/call');
    expect(response.status).toBe(401);
    expect(error).toMatchObject({ code: 'unauthorized' });
    expect(typeof error?.message).toBe('string');
  });

  it('refuses a baseUrl that is not an http(s) URL, and an empty token, naming what to pass', () => {
    expect(() => createClient({ baseUrl: 'localhost:8080', token: 't' })).toThrow(/baseUrl must be the API's http\(s\) URL/);
    expect(() => createClient({ baseUrl: 'http://127.0.0.1:1', token: '' })).toThrow(/token is required/);
  });
});

describe('webhook verifier', () => {
  it('accepts real signed deliveries under both signatures, and refuses them tampered, replayed late, or under another key', async () => {
    const receiver = await startReceiver();
    try {
      const hook = await orThrow(client.POST('/v2/sip/webhooks', { body: { url: receiver.url, events: ['call-started'] } }));
      const connector = await orThrow(client.POST('/v2/connectors', { body: { provider: 'plivo', defaultRoomId: 'client-hooks' } }));
      await new SimulatedCall({ answerUrl: connector.data.webhookUrl }).answer();
      const delivery: ReceivedWebhook = await waitFor(() => receiver.received[0], 10_000);
      const { publicKey } = await orThrow(client.GET('/v2/public/rsa-public-key'));
      const headers = delivery.headers;
      const signature = headers['videosdk-signature'] as string;

      expect(verifyVideosdkSignature(delivery.body, signature, publicKey)).toBe(true);
      const verified = verifyStandardSignature(delivery.body, headers, hook.secret);
      expect(verified).toEqual({ ok: true, id: headers['webhook-id'], timestamp: Number(headers['webhook-timestamp']) });
      // The reference implementation agrees, and so do fetch's Headers.
      expect(new Webhook(hook.secret).verify(delivery.body.toString('utf8'), headers as Record<string, string>)).toEqual(delivery.payload);
      expect(verifyStandardSignature(delivery.body, new Headers(headers as Record<string, string>), hook.secret).ok).toBe(true);

      const tampered = Buffer.from(delivery.body.toString('utf8').replace('call-started', 'call-hangup!'));
      expect(verifyVideosdkSignature(tampered, signature, publicKey)).toBe(false);
      expect(verifyStandardSignature(tampered, headers, hook.secret)).toEqual({ ok: false, reason: 'bad-signature' });

      // The same request replayed six minutes later; and with its timestamp moved to now, which breaks the signature.
      const sentAt = Number(headers['webhook-timestamp']) * 1000;
      expect(verifyStandardSignature(delivery.body, headers, hook.secret, { nowMs: sentAt + 360_000 })).toEqual({ ok: false, reason: 'stale-timestamp' });
      expect(verifyStandardSignature(delivery.body, headers, hook.secret, { nowMs: sentAt + 240_000 }).ok).toBe(true);
      expect(verifyStandardSignature(delivery.body, headers, hook.secret, { nowMs: sentAt + 240_000, toleranceSeconds: 60 })).toEqual({ ok: false, reason: 'stale-timestamp' });
      const retimed = { ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) + 1) };
      expect(verifyStandardSignature(delivery.body, retimed, hook.secret)).toEqual({ ok: false, reason: 'bad-signature' });

      const otherSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      expect(verifyStandardSignature(delivery.body, headers, otherSecret)).toEqual({ ok: false, reason: 'bad-signature' });
      // A signature list (a sender rotating secrets) passes when one of its entries matches.
      const listed = { ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature'] as string}` };
      expect(verifyStandardSignature(delivery.body, listed, hook.secret).ok).toBe(true);
      // As long as the expected signature in characters but not in bytes: refused, not thrown.
      const wide = { ...headers, 'webhook-signature': `v1,${'é'.repeat((headers['webhook-signature'] as string).length - 3)}` };
      expect(verifyStandardSignature(delivery.body, wide, hook.secret)).toEqual({ ok: false, reason: 'bad-signature' });
      for (const missing of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
        expect(verifyStandardSignature(delivery.body, { ...headers, [missing]: undefined }, hook.secret)).toEqual({ ok: false, reason: 'missing-headers' });
      }
      expect(verifyStandardSignature(delivery.body, { ...headers, 'webhook-timestamp': '12e3' }, hook.secret)).toEqual({ ok: false, reason: 'missing-headers' });
    } finally {
      await receiver.close();
    }
  });
});
