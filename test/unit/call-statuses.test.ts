import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALL_STATUSES, maskNumber } from '../../core/calls/model';
import { CALL_EVENT_TYPES } from '../../core/events';

describe('call statuses', () => {
  it("docs/webhooks.md's table lists exactly CALL_STATUSES, in order, with the event each fires and when", () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| `data.status` | Event | When |'));
    const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z-]+)` \| `([a-z-]+)` \| (.+) \|$/gm)].map(([, status, event, when]) => [status, { event, when }]);
    expect(rows).toEqual(Object.entries(CALL_STATUSES));
  });

  it("are VideoSDK's values, each firing an event calls fire", () => {
    expect(Object.keys(CALL_STATUSES)).toEqual([
      'incoming',
      'initiated',
      'ringing',
      'answered',
      'ended',
      'rejected',
      'missed',
      'abandoned',
      'not-answered',
      'failed',
      'transfer-initiated',
      'transferring',
      'transfer-ringing',
      'transfer-accepted',
      'transferred',
      'transfer-failed',
    ]);
    for (const { event } of Object.values(CALL_STATUSES)) expect(CALL_EVENT_TYPES).toContain(event);
  });
});

describe('maskNumber', () => {
  it.each([
    ['+14155550100', '+*******0100'],
    ['14155550100', '*******0100'],
    ['+4420', '+4420'],
    ['0100', '0100'],
    ['100', '100'],
    ['', ''],
    ['sip:alice@example.com', '*****************.com'],
  ])('%s -> %s', (number, masked) => {
    expect(maskNumber(number)).toBe(masked);
  });
});
