import { useState } from 'preact/hooks';
import { request, withQuery, type Credentials, type NumberedPage } from './api';
import { VOCABULARY, type Delivery, type Webhook } from './types';
import { ErrorNote, Outcome, Pager, Status, time, useAction, useResource } from './ui';

/** The tenant's webhooks and each one's deliveries, with re-drive of a failed one (the API re-drives only those). */
export function WebhooksView({ credentials }: { credentials: Credentials }) {
  const hooks = useResource<NumberedPage<Webhook>>(credentials, withQuery('/v2/sip/webhooks', { perPage: 100 }));
  const [selected, setSelected] = useState<string | null>(null);
  const webhookId = selected ?? hooks.value?.data[0]?.id ?? null;
  return (
    <section aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <ErrorNote error={hooks.error} />
      <table aria-label="Webhooks">
        <thead>
          <tr>
            <th>URL</th>
            <th>Events</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {hooks.value?.data.map((hook) => (
            <tr key={hook.id} class={hook.id === webhookId ? 'selected' : ''}>
              <td class="mono">{hook.url}</td>
              <td>{hook.events.join(', ')}</td>
              <td>
                <button type="button" aria-label={`Deliveries of ${hook.url}`} onClick={() => setSelected(hook.id)}>
                  Deliveries
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {hooks.value?.data.length === 0 && <p class="muted">No webhooks: POST /v2/sip/webhooks registers one.</p>}
      {webhookId && <Deliveries key={webhookId} credentials={credentials} webhookId={webhookId} />}
    </section>
  );
}

function Deliveries({ credentials, webhookId }: { credentials: Credentials; webhookId: string }) {
  const [status, setStatus] = useState('');
  const [page, setPage] = useState(1);
  const path = `/v2/sip/webhooks/${encodeURIComponent(webhookId)}/deliveries`;
  const deliveries = useResource<NumberedPage<Delivery>>(credentials, withQuery(path, { status, page, perPage: 20 }), 5000);
  const action = useAction();
  return (
    <>
      <h3>Deliveries</h3>
      <label>
        Status
        <select aria-label="Delivery status" value={status} onChange={(event) => (setStatus(event.currentTarget.value), setPage(1))}>
          <option value="">any</option>
          {VOCABULARY.deliveryStatuses.map((value) => (
            <option key={value}>{value}</option>
          ))}
        </select>
      </label>
      <Outcome state={action} />
      <ErrorNote error={deliveries.error} />
      <table aria-label="Deliveries">
        <thead>
          <tr>
            <th>Event</th>
            <th>Call</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Last answer</th>
            <th>Next attempt</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {deliveries.value?.data.map((delivery) => {
            const last = delivery.attempts[delivery.attempts.length - 1];
            return (
              <tr key={delivery.id}>
                <td>{delivery.event}</td>
                <td class="mono">{delivery.callId}</td>
                <td>
                  <Status value={delivery.status} />
                </td>
                <td>{delivery.attempts.length}</td>
                <td>{last ? `${last.statusCode ?? last.error ?? '—'} at ${time(last.at)}` : '—'}</td>
                <td>{time(delivery.nextAttemptAt)}</td>
                <td>
                  {delivery.status === 'failed' && (
                    <button
                      type="button"
                      aria-label={`Re-drive ${delivery.id}`}
                      disabled={action.busy}
                      onClick={() =>
                        action.run(async () => {
                          await request(credentials, 'POST', `${path}/${encodeURIComponent(delivery.id)}/retry`);
                          deliveries.reload();
                          return `Delivery ${delivery.id} queued again`;
                        })
                      }
                    >
                      Re-drive
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {deliveries.value?.data.length === 0 && <p class="muted">No deliveries{status ? ` ${status}` : ''}.</p>}
      <Pager info={deliveries.value?.pageInfo} onPage={setPage} />
    </>
  );
}
