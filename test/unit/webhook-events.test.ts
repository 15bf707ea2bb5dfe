import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOM_TIMELOG_EVENTS, STREAM_TIMELOG_EVENTS } from '../../core/calls/model';
import { CALL_EVENT_TYPES, WEBHOOK_EVENTS } from '../../core/events';
import { STREAM_STATUS_EVENTS } from '../../core/plivo/stream-status';
import { RECORDING_EVENTS } from '../../core/recordings/model';
import { ROOM_WEBHOOK_EVENTS } from '../../core/room-records/schema';

describe('webhook events', () => {
  it("docs/webhooks.md's table lists exactly WEBHOOK_EVENTS, in order, with who fires each and when", () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| `webhookType` | Fired by | When |'));
    const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z-]+)` \| ([a-z-]+) \| (.+) \|$/gm)].map(([, name, firedBy, when]) => [
      name,
      { firedBy, when },
    ]);
    expect(rows).toEqual(Object.entries(WEBHOOK_EVENTS));
  });

  it("are the 15 VideoSDK SIP event names, exactly, a call's, then the recording events", () => {
    expect(CALL_EVENT_TYPES).toEqual([
      'call-started',
      'call-ringing',
      'call-answered',
      'call-update',
      'call-hangup',
      'call-missed',
      'call-transfer-initiated',
      'call-transferring',
      'call-transfer-ringing',
      'call-transfer-accepted',
      'call-transferred',
      'call-transfer-failed',
      'switch-room-initiated',
      'switch-room-completed',
      'switch-room-failed',
    ]);
    expect(Object.keys(WEBHOOK_EVENTS)).toEqual([...CALL_EVENT_TYPES, ...RECORDING_EVENTS]);
    expect(Object.values(WEBHOOK_EVENTS).filter(({ firedBy }) => firedBy === 'recordings')).toHaveLength(RECORDING_EVENTS.length);
  });

  it("docs/webhooks.md's stream status table lists exactly Plivo's STREAM_STATUS_EVENTS, in order, with what each records", () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
    const table = doc.slice(doc.indexOf("| Plivo's `Event` | Recorded | Event |"));
    const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([A-Za-z]+)` \| [^|]*"(?:event|status)": "([a-z-]+)"[^|]*\| `?([a-z-]+)`? \|$/gm)];
    expect(rows.map(([, event, kind]) => [event, kind])).toEqual(Object.entries(STREAM_STATUS_EVENTS));
    // The timelog's stream events are those of the table; the others fire call-update.
    expect(rows.filter(([, , , fired]) => fired === 'none').map(([, , kind]) => kind)).toEqual(Object.keys(STREAM_TIMELOG_EVENTS));
    expect(rows.filter(([, , , fired]) => fired !== 'none').map(([, , , fired]) => fired)).toEqual(['call-update', 'call-update']);
  });

  it("docs/webhooks.md's switch-room table lists exactly ROOM_TIMELOG_EVENTS, in order, each a webhook event", () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| Timelog `event` | Fields | When |'));
    const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z-]+)` \| [^|]+ \| (.+) \|$/gm)].map(([, event, when]) => [event, when]);
    expect(rows).toEqual(Object.entries(ROOM_TIMELOG_EVENTS));
    for (const [event] of rows) expect(Object.keys(WEBHOOK_EVENTS)).toContain(event);
  });

  it("docs/webhooks.md's room events table lists exactly ROOM_WEBHOOK_EVENTS, in order", () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'webhooks.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| Room event | When |'));
    const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z-]+)` \| .+ \|$/gm)].map(([, name]) => name);
    expect(rows).toEqual([...ROOM_WEBHOOK_EVENTS]);
  });
});
