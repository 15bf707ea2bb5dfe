import { constants, createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readBody } from './http-body';

/**
 * An in-process stand-in for AWS KMS that speaks KMS's own wire protocol (JSON 1.1, `X-Amz-Target:
 * TrentService.*`), so the product's real `@aws-sdk/client-kms` calls run unchanged on a laptop.
 * Symmetric keys are AES-256-GCM keys created on first use, one file per key id under `dir`
 * (mode 0600); the encryption context is authenticated data, as in KMS. Signing keys (Sign,
 * GetPublicKey) are RSA-2048 keys, also created on first use, one PEM file per key id.
 */
export interface KmsEmulator {
  readonly endpoint: string;
  close(): Promise<void>;
}

class KmsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const MAGIC = Buffer.from('LKMS1');
const MAX_BODY = 256 * 1024;

function keyFile(dir: string, keyId: string): string {
  return join(dir, createHash('sha256').update(keyId).digest('hex').slice(0, 32) + '.key');
}

function loadKey(dir: string, keyId: string): Buffer {
  const file = keyFile(dir, keyId);
  try {
    writeFileSync(file, randomBytes(32), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = readFileSync(file);
  if (key.length !== 32) throw new Error(`KMS emulator key file ${file} is corrupt`);
  return key;
}

function contextAad(keyId: string, context: unknown): Buffer {
  const entries = Object.entries((context ?? {}) as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return Buffer.from(JSON.stringify([keyId, entries]));
}

function blob(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value.length === 0) throw new KmsFault('ValidationException', `${field} is required`);
  return Buffer.from(value, 'base64');
}

function keyIdOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new KmsFault('ValidationException', 'KeyId is required');
  return value;
}

function encrypt(dir: string, input: Record<string, unknown>): Record<string, unknown> {
  const keyId = keyIdOf(input.KeyId);
  const plaintext = blob(input.Plaintext, 'Plaintext');
  if (plaintext.length > 4096) throw new KmsFault('ValidationException', 'Plaintext exceeds 4096 bytes');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', loadKey(dir, keyId), iv);
  cipher.setAAD(contextAad(keyId, input.EncryptionContext));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const id = Buffer.from(keyId, 'utf8');
  const head = Buffer.alloc(2);
  head.writeUInt16BE(id.length);
  const ciphertext = Buffer.concat([MAGIC, head, id, iv, cipher.getAuthTag(), body]);
  return { CiphertextBlob: ciphertext.toString('base64'), KeyId: keyId, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
}

function decrypt(dir: string, input: Record<string, unknown>): Record<string, unknown> {
  const data = blob(input.CiphertextBlob, 'CiphertextBlob');
  const invalid = new KmsFault('InvalidCiphertextException', 'The ciphertext is invalid or its context does not match');
  if (data.length < MAGIC.length + 2 + 28 || !data.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid;
  const idLength = data.readUInt16BE(MAGIC.length);
  const idStart = MAGIC.length + 2;
  const keyId = data.subarray(idStart, idStart + idLength).toString('utf8');
  if (input.KeyId !== undefined && input.KeyId !== keyId) {
    throw new KmsFault('IncorrectKeyException', 'The ciphertext was encrypted under another key');
  }
  const ivStart = idStart + idLength;
  const decipher = createDecipheriv('aes-256-gcm', loadKey(dir, keyId), data.subarray(ivStart, ivStart + 12));
  decipher.setAuthTag(data.subarray(ivStart + 12, ivStart + 28));
  decipher.setAAD(contextAad(keyId, input.EncryptionContext));
  try {
    const plaintext = Buffer.concat([decipher.update(data.subarray(ivStart + 28)), decipher.final()]);
    return { Plaintext: plaintext.toString('base64'), KeyId: keyId, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  } catch {
    throw invalid;
  }
}

/** Parsed signing keys by file: generating a key takes a fifth of a second, parsing one a millisecond. */
const signingKeys = new Map<string, KeyObject>();

function loadSigningKey(dir: string, keyId: string): KeyObject {
  const file = keyFile(dir, keyId).replace(/\.key$/, '.rsa.pem');
  const cached = signingKeys.get(file);
  if (cached) return cached;
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const key = createPrivateKey(readFileSync(file));
  signingKeys.set(file, key);
  return key;
}

/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256: what RSASSA_PKCS1_V1_5_SHA_256 signs around a digest. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

function sign(dir: string, input: Record<string, unknown>): Record<string, unknown> {
  const keyId = keyIdOf(input.KeyId);
  if (input.SigningAlgorithm !== 'RSASSA_PKCS1_V1_5_SHA_256') throw new KmsFault('ValidationException', 'Only RSASSA_PKCS1_V1_5_SHA_256 is emulated');
  const message = blob(input.Message, 'Message');
  const digest = input.MessageType === 'DIGEST' ? message : createHash('sha256').update(message).digest();
  if (digest.length !== 32) throw new KmsFault('ValidationException', 'A SHA-256 digest is 32 bytes');
  const signature = privateEncrypt({ key: loadSigningKey(dir, keyId), padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest]));
  return { KeyId: keyId, Signature: signature.toString('base64'), SigningAlgorithm: input.SigningAlgorithm };
}

function getPublicKey(dir: string, input: Record<string, unknown>): Record<string, unknown> {
  const keyId = keyIdOf(input.KeyId);
  const publicKey = createPublicKey(loadSigningKey(dir, keyId)).export({ type: 'spki', format: 'der' });
  return { KeyId: keyId, PublicKey: publicKey.toString('base64'), KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256'] };
}

const operations: Record<string, (dir: string, input: Record<string, unknown>) => Record<string, unknown>> = {
  'TrentService.Encrypt': encrypt,
  'TrentService.Decrypt': decrypt,
  'TrentService.Sign': sign,
  'TrentService.GetPublicKey': getPublicKey,
};

function reply(res: ServerResponse, status: number, body: Record<string, unknown>, errorType?: string): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    ...(errorType && { 'x-amzn-errortype': errorType }),
  });
  res.end(JSON.stringify(body));
}

async function handle(dir: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const target = req.headers['x-amz-target'];
    const operation = typeof target === 'string' ? operations[target] : undefined;
    if (!operation) throw new KmsFault('UnsupportedOperationException', `Unsupported operation ${String(target)}`);
    let input: unknown;
    try {
      // A body over MAX_BODY is refused as unreadable, as one that is not JSON.
      input = JSON.parse((await readBody(req, MAX_BODY)).toString('utf8') || '{}');
    } catch {
      throw new KmsFault('SerializationException', 'Body is not valid JSON');
    }
    if (typeof input !== 'object' || input === null) throw new KmsFault('ValidationException', 'Body must be an object');
    reply(res, 200, operation(dir, input as Record<string, unknown>));
  } catch (err) {
    const fault = err instanceof KmsFault ? err : new KmsFault('KMSInternalException', 'Internal error');
    reply(res, fault.type === 'KMSInternalException' ? 500 : 400, { __type: fault.type, message: fault.message }, fault.type);
  }
}

export async function startKmsEmulator(dir: string, port = 0): Promise<KmsEmulator> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const server: Server = createServer((req, res) => void handle(dir, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
