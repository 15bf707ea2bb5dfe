import { createLogger } from '../../core/log';

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
