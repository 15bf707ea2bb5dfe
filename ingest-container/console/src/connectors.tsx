import { useState } from 'preact/hooks';
import { withQuery, type Credentials } from './api';
import type { Connector } from './types';
import { ErrorNote, time, useResource } from './ui';

interface ConnectorList {
  data: Connector[];
  pageInfo: { limit: number; nextCursor: string | null };
}

/** The tenant's connectors with their Answer URLs (what to paste into Plivo's application). */
export function ConnectorsView({ credentials }: { credentials: Credentials }) {
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const list = useResource<ConnectorList>(credentials, withQuery('/v2/connectors', { limit: 20, cursor }));
  return (
    <section aria-labelledby="connectors-title">
      <h2 id="connectors-title">Connectors</h2>
      <ErrorNote error={list.error} />
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Answer URL</th>
            <th>Default room</th>
            <th>Region</th>
            <th>Plivo credentials</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {list.value?.data.map((connector) => (
            <tr key={connector.id}>
              <td>
                {connector.name ?? <span class="muted">unnamed</span>}
                <div class="mono muted">{connector.id}</div>
              </td>
              <td>
                <code>{connector.webhookUrl}</code>
                <div>
                  <button type="button" aria-label={`Copy the Answer URL of ${connector.name ?? connector.id}`} onClick={() => void navigator.clipboard?.writeText(connector.webhookUrl)}>
                    Copy
                  </button>
                </div>
              </td>
              <td>{connector.defaultRoomId ?? (connector.defaultRuleId ? `rule ${connector.defaultRuleId}` : '—')}</td>
              <td>{connector.region ?? 'by caller'}</td>
              <td>{connector.plivoAuthIdSet && connector.plivoAuthTokenSet ? 'set (outbound calls, signatures)' : 'none'}</td>
              <td>{time(connector.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.value?.data.length === 0 && <p class="muted">No connectors yet: POST /v2/connectors creates one.</p>}
      <div class="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!list.value?.pageInfo.nextCursor} onClick={() => list.value?.pageInfo.nextCursor && setCursors([...cursors, list.value.pageInfo.nextCursor])}>
          Next page
        </button>
      </div>
    </section>
  );
}
