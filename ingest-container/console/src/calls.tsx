import { useState } from 'preact/hooks';
import { request, withQuery, type Credentials, type NumberedPage } from './api';
import { VOCABULARY, type Call } from './types';
import { ActionForm, ErrorNote, fieldsOf, Outcome, Pager, Status, time, useAction, useResource } from './ui';

/** How often an open call log and call refresh: an operator watches calls move. */
const REFRESH_MS = 3000;
/** The call log's filters, as `GET /v2/sip/call` takes them (dates as the browser's `datetime-local`, sent as epoch ms). */
const FILTERS = ['type', 'roomId', 'ruleId', 'search', 'startDate', 'endDate'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;
const DATES = new Set<string>(['startDate', 'endDate']);
const filterValue = (name: string, value: string): string => (DATES.has(name) && value ? String(new Date(value).getTime()) : value);

/** The call log with its filters and pages; a call's detail, quality and controls; placing an outbound call. */
export function CallsView({ credentials }: { credentials: Credentials }) {
  const [filters, setFilters] = useState<Filters>({});
  const [page, setPage] = useState(1);
  const [selected, setSelected] = useState<string | null>(null);
  const log = useResource<NumberedPage<Call>>(credentials, withQuery('/v2/sip/call', { ...filters, page, perPage: 10 }), REFRESH_MS);
  return (
    <section aria-labelledby="calls-title">
      <h2 id="calls-title">Calls</h2>
      <form
        class="bar"
        aria-label="Filter calls"
        onSubmit={(event) => {
          event.preventDefault();
          const fields = fieldsOf(event.currentTarget);
          setFilters(Object.fromEntries(FILTERS.map((name) => [name, filterValue(name, fields[name] ?? '')])));
          setPage(1);
        }}
      >
        <label>
          Direction
          <select name="type">
            <option value="">any</option>
            {VOCABULARY.callTypes.map((type) => (
              <option key={type}>{type}</option>
            ))}
          </select>
        </label>
        <label>
          Room
          <input name="roomId" size={14} />
        </label>
        <label>
          Routing rule
          <input name="ruleId" size={14} />
        </label>
        <label>
          Number or room contains
          <input name="search" size={14} />
        </label>
        <label>
          Started from
          <input name="startDate" type="datetime-local" />
        </label>
        <label>
          Started until
          <input name="endDate" type="datetime-local" />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={log.error} />
      <div class="cols">
        <div>
          <table aria-label="Call log">
            <thead>
              <tr>
                <th>Call</th>
                <th>Status</th>
                <th>From → to</th>
                <th>Room</th>
                <th>Started</th>
                <th>Stream</th>
              </tr>
            </thead>
            <tbody>
              {log.value?.data.map((call) => (
                <tr key={call.id} class={call.id === selected ? 'selected' : ''}>
                  <td>
                    <button type="button" aria-label={`Open call ${call.id}`} onClick={() => setSelected(call.id)}>
                      {call.type}
                    </button>
                    <div class="mono muted">{call.id}</div>
                  </td>
                  <td>
                    <Status value={call.status} />
                  </td>
                  <td>
                    {call.from} → {call.to}
                  </td>
                  <td>{call.roomId ?? '—'}</td>
                  <td>{time(call.start)}</td>
                  <td>{call.additionalDetails.stream ? <Status value={call.additionalDetails.stream.status} /> : <span class="muted">ok</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {log.value?.data.length === 0 && <p class="muted">No calls match.</p>}
          <Pager info={log.value?.pageInfo} onPage={setPage} />
        </div>
        <div>
          {selected && <CallDetail credentials={credentials} callId={selected} changed={log.reload} />}
          <PlaceCall credentials={credentials} placed={(id) => (setSelected(id), log.reload())} />
        </div>
      </div>
    </section>
  );
}

const LIVE = new Set<string>(VOCABULARY.liveStatuses);

/** One call: its facts, stream quality and timeline, and the controls a live call takes. */
function CallDetail({ credentials, callId, changed }: { credentials: Credentials; callId: string; changed: () => void }) {
  const call = useResource<{ data: Call }>(credentials, `/v2/sip/call/${encodeURIComponent(callId)}`, REFRESH_MS);
  const action = useAction();
  const control = (path: string, body: Record<string, unknown>, what: string) =>
    action.run(async () => {
      const answer = await request<{ data: Call }>(credentials, 'POST', path, body);
      call.reload();
      changed();
      return `${what}: the call is ${answer.data.status}`;
    });
  const value = call.value?.data;
  return (
    <div class="panel" aria-label={`Call ${callId}`} role="region">
      <h3>Call {callId}</h3>
      <ErrorNote error={call.error} />
      {value && (
        <>
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <Status value={value.status} />
            </dd>
            <dt>Direction</dt>
            <dd>{value.type}</dd>
            <dt>From → to</dt>
            <dd>
              {value.from} → {value.to}
            </dd>
            <dt>Room</dt>
            <dd>{value.roomId ?? '—'}</dd>
            <dt>Connector</dt>
            <dd class="mono">{value.connectorId}</dd>
            <dt>Region</dt>
            <dd>{value.region ?? '—'}</dd>
            <dt>Duration</dt>
            <dd>{value.additionalDetails.durationSeconds === null ? '—' : `${value.additionalDetails.durationSeconds} s`}</dd>
            <dt>Hang-up reason</dt>
            <dd>{value.additionalDetails.hangupReason ?? '—'}</dd>
            <dt>Stream quality</dt>
            <dd aria-label="Stream quality">
              {value.additionalDetails.stream ? (
                <>
                  <Status value={value.additionalDetails.stream.status} /> at {time(value.additionalDetails.stream.at)}, {value.additionalDetails.stream.degradedCount} degraded report(s)
                </>
              ) : (
                'no trouble reported by Plivo'
              )}
            </dd>
            {value.additionalDetails.transfer && (
              <>
                <dt>Transfer</dt>
                <dd>
                  to {value.additionalDetails.transfer.to}
                  {value.additionalDetails.transfer.outcome && `, failed: ${value.additionalDetails.transfer.outcome}`}
                </dd>
              </>
            )}
          </dl>
          <Outcome state={action} />
          {LIVE.has(value.status) && (
            <>
              <button type="button" class="danger" disabled={action.busy} onClick={() => control('/v2/sip/call/end', { callId }, 'Ended')}>
                End call
              </button>
              <ActionForm label="Switch room" busy={action.busy} onSubmit={(fields) => control('/v2/sip/call/switch-room', { callId, roomId: fields.roomId }, `Switched to ${fields.roomId}`)}>
                <label>
                  To room
                  <input name="roomId" required size={14} />
                </label>
              </ActionForm>
              <ActionForm
                label="Transfer"
                busy={action.busy}
                onSubmit={(fields) => control('/v2/sip/call/transfer', { callId, transferTo: fields.transferTo, playDialtone: fields.playDialtone === 'on' }, `Transfer to ${fields.transferTo} asked`)}
              >
                <label>
                  To (E.164 or SIP URI)
                  <input name="transferTo" required size={16} />
                </label>
                <label class="inline">
                  <input type="checkbox" name="playDialtone" /> dial tone
                </label>
              </ActionForm>
            </>
          )}
          <h3>Timeline</h3>
          <ol class="mono">
            {value.timelog.map((entry, i) => (
              <li key={i}>
                {time(entry.at)} {'status' in entry ? entry.status : entry.event}
                {'from' in entry && ` ${entry.from} → ${entry.to}${entry.reason ? ` (${entry.reason})` : ''}`}
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}

/** `POST /v2/sip/call`: an outbound call into a room, through a connector that holds Plivo credentials. */
function PlaceCall({ credentials, placed }: { credentials: Credentials; placed: (callId: string) => void }) {
  const action = useAction();
  return (
    <fieldset>
      <legend>Place an outbound call</legend>
      <ActionForm
        label="Place call"
        busy={action.busy}
        onSubmit={(fields) =>
          action.run(async () => {
            const body = { sipCallTo: fields.to, sipCallFrom: fields.from, destinationRoomId: fields.roomId, ...(fields.connectorId && { connectorId: fields.connectorId }) };
            const answer = await request<{ data: Call }>(credentials, 'POST', '/v2/sip/call', body);
            placed(answer.data.id);
            return `Placed ${answer.data.id}: ${answer.data.status}`;
          })
        }
      >
        <label>
          To
          <input name="to" required placeholder="+14155550100" size={14} />
        </label>
        <label>
          From
          <input name="from" required placeholder="+14155550199" size={14} />
        </label>
        <label>
          Into room
          <input name="roomId" required size={12} />
        </label>
        <label>
          Connector (if several)
          <input name="connectorId" size={12} />
        </label>
      </ActionForm>
      <Outcome state={action} />
    </fieldset>
  );
}
