import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { dynamoClient } from '../../core/aws';
import { createLogger, streamSink, type LogFields, type Logger, type LogLevel } from '../../core/log';
import { startLocalAws } from '../../local/aws';
import { NODE_TSX, ROOT } from '../support/local-process';

const run = promisify(execFile);

describe('structured logs', () => {
  it('writes one JSON object per line with bindings, filtered by level', () => {
    const lines: string[] = [];
    const log = createLogger('info', { service: 'api' }, (l) => lines.push(l)).child({ callId: 'c1', roomId: 'r1' });
    log.debug('hidden');
    log.info('shown', { status: 200 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ time: expect.any(String), level: 'info', msg: 'shown', service: 'api', callId: 'c1', roomId: 'r1', status: 200 });
  });

  it('redacts secret-looking fields wherever they come from', () => {
    const lines: string[] = [];
    const log = createLogger('debug', {}, (l) => lines.push(l)).child({ plivoAuthToken: 'tok-1' });
    log.warn('x', { authorization: 'Bearer abc', apiSecret: 's', webhookKey: 'whk_x', ref: 'r', signature: 'sig', tenant: 'acme' });
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({ plivoAuthToken: '[redacted]', authorization: '[redacted]', apiSecret: '[redacted]', webhookKey: '[redacted]', ref: '[redacted]', signature: '[redacted]', tenant: 'acme' });
    expect(lines[0]).not.toMatch(/tok-1|abc|whk_x/);
  });

  it('serialises errors with name, message and stack', () => {
    const lines: string[] = [];
    createLogger('info', {}, (l) => lines.push(l)).error('boom', { err: new TypeError('bad') });
    expect(JSON.parse(lines[0]!)).toMatchObject({ err: { name: 'TypeError', message: 'bad', stack: expect.stringContaining('TypeError') } });
  });
});

describe('structured logs on a stream', () => {
  /** The real logger writing to a real stream, as it writes to stdout. */
  function streamed(level: LogLevel = 'debug', bindings: LogFields = {}): { log: Logger; records: () => Record<string, unknown>[]; text: () => string } {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    return {
      log: createLogger(level, bindings, streamSink(out, {})),
      records: () => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>),
      text: () => text,
    };
  }

  it('never throws: circular values, BigInts, getters and proxies that throw are written as what they are', () => {
    const { log, records } = streamed();
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const shared = { id: 1 };
    const hostile = Object.defineProperty({ ok: true }, 'boom', { enumerable: true, get: () => { throw new Error('getter'); } });
    const trap = new Proxy({}, { ownKeys: () => { throw new Error('trap'); } });
    expect(() => log.info('odd values', { circular, big: 12345678901234567890n, hostile, trap, pair: [shared, shared], at: new Date(0) })).not.toThrow();
    expect(() => log.child({ big: 1n, circular }).warn('bound')).not.toThrow();
    expect(() => log.error('hostile fields', trap)).not.toThrow();
    const [first, second, third] = records();
    expect(first).toMatchObject({
      msg: 'odd values',
      circular: { name: 'loop', self: '[Circular]' },
      big: '12345678901234567890',
      hostile: { ok: true, boom: '[Unreadable]' },
      trap: '[Unreadable]',
      pair: [{ id: 1 }, { id: 1 }],
      at: '1970-01-01T00:00:00.000Z',
    });
    expect(second).toMatchObject({ msg: 'bound', big: '1', circular: { self: '[Circular]' } });
    expect(third).toMatchObject({ msg: 'hostile fields', fields: '[Unreadable]' });
  });

  it('redacts secrets at any depth: nested keys, bindings, error properties, bearer tokens and secret query parameters in strings', () => {
    const { log, text } = streamed('debug', { connector: { plivoAuthToken: 'tok-bound' } });
    const err = Object.assign(new Error('upstream refused Bearer eyJhbGciOi.abc.def'), { request: { headers: { Authorization: 'Bearer tok-err' } } });
    log.error('failed', {
      request: { headers: { authorization: 'Bearer tok-header', 'x-plivo-signature-v3': 'sig-1' }, body: [{ tenant: 'acme', apiSecret: 'sec-1' }] },
      url: '/rooms/r1?token=eyJ.tok-query&kind=agent',
      plivo: 'wss://media.example.com/plivo?ref=ref-1',
      err,
    });
    const record = JSON.parse(text()) as Record<string, unknown>;
    expect(record).toMatchObject({
      connector: { plivoAuthToken: '[redacted]' },
      request: { headers: { authorization: '[redacted]', 'x-plivo-signature-v3': '[redacted]' }, body: [{ tenant: 'acme', apiSecret: '[redacted]' }] },
      url: '/rooms/r1?token=[redacted]&kind=agent',
      plivo: 'wss://media.example.com/plivo?ref=[redacted]',
      err: { message: 'upstream refused Bearer [redacted]', request: { headers: { Authorization: '[redacted]' } } },
    });
    expect(text()).not.toMatch(/tok-|sig-1|sec-1|ref-1|eyJ/);
  });

  it("keeps an error's cause chain and the AWS SDK's $metadata (request id, status)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-'));
    const aws = await startLocalAws(undefined, dir);
    const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: aws.dynamodbEndpoint });
    try {
      const sdkError = await dynamo.send(new GetItemCommand({ TableName: 'missing', Key: { pk: { S: 'x' } } })).catch((err: unknown) => err as Error);
      const { log, records } = streamed();
      log.error('lookup failed', { err: new Error('connector lookup failed', { cause: new Error('store read failed', { cause: sdkError }) }) });
      const [record] = records();
      expect(record).toMatchObject({
        err: {
          message: 'connector lookup failed',
          cause: {
            message: 'store read failed',
            cause: { name: 'ResourceNotFoundException', $fault: 'client', $metadata: { httpStatusCode: 400, requestId: expect.stringMatching(/\S/) }, stack: expect.any(String) },
          },
        },
      });
    } finally {
      dynamo.destroy();
      await aws.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  /** A tiny program logging one line, run with its stdout on a real terminal (`script`'s pseudo-terminal) or a pipe. */
  async function logOnce(terminal: boolean, env: Record<string, string> = {}): Promise<string> {
    const program = `require(${JSON.stringify(join(ROOT, 'core', 'log.ts'))}).createLogger('info', { service: 'local' }).info('media server started', { port: 8080 })`;
    const command = [...NODE_TSX, '-e', program];
    const quoted = command.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
    const [file, args]: [string, string[]] = terminal ? ['script', ['-qec', quoted, '/dev/null']] : [process.execPath, command.slice(1)];
    const { stdout } = await run(file, args, { cwd: ROOT, env: { ...process.env, AWS_EXECUTION_ENV: '', AWS_LAMBDA_FUNCTION_NAME: '', ECS_CONTAINER_METADATA_URI_V4: '', ...env } });
    return stdout;
  }

  it('writes readable lines on a terminal, JSON on a pipe, and JSON in AWS even on a terminal', async () => {
    const readable = (await logOnce(true)).replace(/\u001b\[\d+m/g, '');
    expect(readable).toMatch(/INFO.*local: media server started/);
    expect(readable).toMatch(/port: 8080/);
    expect(readable).not.toContain('{"level"');
    expect(JSON.parse(await logOnce(false))).toMatchObject({ level: 'info', service: 'local', msg: 'media server started', port: 8080 });
    expect(JSON.parse((await logOnce(true, { AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE' })).trim())).toMatchObject({ level: 'info', msg: 'media server started' });
  }, 60_000);
});
