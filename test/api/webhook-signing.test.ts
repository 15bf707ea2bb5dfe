import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { kmsClient } from '../../core/aws';
import { verifyVideosdkSignature } from '../../client/src/webhooks';
import { WebhookSigner } from '../../core/webhooks/signing';
import { LOCAL_WEBHOOK_SIGNING_KEY_ID } from '../../local/aws';
import { waitFor } from '../support/local-process';
import { answerFields, newCall, plivoRequest } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Webhook signatures through the real KMS client against the local stack's KMS emulator (Sign with a
 * SHA-256 digest, GetPublicKey), and the public key as `GET /v2/public/rsa-public-key` serves it.
 */
let t: TestStack;
let signer: WebhookSigner;

beforeAll(async () => {
  t = await startTestStack();
  signer = new WebhookSigner(kmsClient({ region: 'us-east-1', kmsEndpoint: t.stack.aws.kmsEndpoint }), LOCAL_WEBHOOK_SIGNING_KEY_ID);
});
afterAll(() => t?.close());

async function publishedKey(): Promise<string> {
  const res = await t.api('GET', '/v2/public/rsa-public-key', { token: '' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { publicKey: string }).publicKey;
}

describe('GET /v2/public/rsa-public-key', () => {
  it('serves the RSA-2048 public key as PEM, without a token', async () => {
    const pem = await publishedKey();
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const key = createPublicKey(pem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(await publishedKey()).toBe(pem); // the same key every time
  });

  it('answers other methods with 405, and other public paths with 404', async () => {
    expect((await t.api('POST', '/v2/public/rsa-public-key', { token: '' })).status).toBe(405);
    expect((await t.api('GET', '/v2/public/nothing', { token: '' })).status).toBe(404);
  });
});

describe('verifyVideosdkSignature', () => {
  const body = Buffer.from(JSON.stringify({ webhookType: 'call-started', data: { id: 'call_x', from: '+14155550100' }, timestamp: '2026-11-21T00:00:00.000Z' }));

  it('accepts what the signer signed, under the published key, for bodies of any size', async () => {
    const pem = await publishedKey();
    expect(verifyVideosdkSignature(body, await signer.sign(body), pem)).toBe(true);
    const large = Buffer.alloc(300_000, 'x'); // over KMS's 4 KB message limit: only the digest goes to KMS
    expect(verifyVideosdkSignature(large, await signer.sign(large), pem)).toBe(true);
    expect(verifyVideosdkSignature(large.toString(), await signer.sign(large), pem)).toBe(true);
  });

  it('refuses a tampered body, another key, and malformed or missing signatures, without throwing', async () => {
    const pem = await publishedKey();
    const signature = await signer.sign(body);
    const tampered = Buffer.from(body.toString().replace('+14155550100', '+14155550101'));
    expect(verifyVideosdkSignature(tampered, signature, pem)).toBe(false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyVideosdkSignature(body, signature, other)).toBe(false);
    for (const bad of [undefined, '', 'not base64!', 'AAAA', signature.slice(0, -8)]) expect(verifyVideosdkSignature(body, bad, pem)).toBe(false);
    expect(verifyVideosdkSignature(body, signature, 'not a key')).toBe(false);
  });
});

describe('Standard Webhooks signature', () => {
  it('signs each delivery with the secret shown at creation, as the standardwebhooks package verifies it; replays are refused', async () => {
    const receiver = await startReceiver();
    const other = await startReceiver();
    try {
      const token = await t.token('demo');
      const created = async (url: string) => {
        const res = await t.api('POST', '/v2/sip/webhooks', { token, body: { url, events: ['call-hangup'] } });
        expect(res.status).toBe(201);
        return (await res.json()) as { id: string; secret: string };
      };
      const mine = await created(receiver.url);
      const theirs = await created(other.url);
      expect((await (await t.api('GET', `/v2/sip/webhooks/${mine.id}`, { token })).text())).not.toContain(mine.secret);

      // A refused call: one call-hangup, to each webhook.
      expect((await plivoRequest(`${t.stack.connector.webhookUrl}?roomId=bad%20room`, answerFields(newCall()))).status).toBe(200);
      const [got] = await waitFor(() => (receiver.received.length ? receiver.received : undefined), 10_000);
      const headers = got?.headers as Record<string, string>;
      const body = (got?.body as Buffer).toString('utf8');
      expect(headers['videosdk-signature']).toBeDefined();
      expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(new Webhook(mine.secret).verify(body, headers)).toEqual(JSON.parse(body));

      // Another webhook's secret, a changed body, id or timestamp: refused.
      expect(() => new Webhook(theirs.secret).verify(body, headers)).toThrow(WebhookVerificationError);
      expect(() => new Webhook(mine.secret).verify(body.replace('rejected', 'answered'), headers)).toThrow(WebhookVerificationError);
      expect(() => new Webhook(mine.secret).verify(body, { ...headers, 'webhook-id': 'whd_other' })).toThrow(WebhookVerificationError);
      const stale = String(Number(headers['webhook-timestamp']) - 600);
      expect(() => new Webhook(mine.secret).verify(body, { ...headers, 'webhook-timestamp': stale })).toThrow(WebhookVerificationError);
    } finally {
      await receiver.close();
      await other.close();
    }
  });
});
