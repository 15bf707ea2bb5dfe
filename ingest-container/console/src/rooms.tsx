import { useState } from 'preact/hooks';
import { request, withQuery, type Credentials, type NumberedPage } from './api';
import type { Room } from './types';
import { ActionForm, ErrorNote, Outcome, Pager, time, useAction, useResource } from './ui';

/** The tenant's rooms: list (or find one), create, deactivate. */
export function RoomsView({ credentials }: { credentials: Credentials }) {
  const [page, setPage] = useState(1);
  const [query, setQuery] = useState('');
  const rooms = useResource<NumberedPage<Room>>(credentials, withQuery('/v2/rooms', { page, perPage: 20, query }));
  const action = useAction();
  return (
    <section aria-labelledby="rooms-title">
      <h2 id="rooms-title">Rooms</h2>
      <div class="bar">
        <ActionForm
          label="Create room"
          busy={action.busy}
          onSubmit={(fields) =>
            action.run(async () => {
              const room = await request<Room>(credentials, 'POST', '/v2/rooms', fields.customRoomId ? { customRoomId: fields.customRoomId } : {});
              rooms.reload();
              return `Room ${room.customRoomId ?? room.roomId} is ready (${room.roomId})`;
            })
          }
        >
          <label>
            Custom room id (optional)
            <input name="customRoomId" size={16} />
          </label>
        </ActionForm>
        <ActionForm label="Find" onSubmit={(fields) => (setQuery(fields.query ?? ''), setPage(1))}>
          <label>
            Room id or custom id
            <input name="query" size={16} />
          </label>
        </ActionForm>
      </div>
      <Outcome state={action} />
      <ErrorNote error={rooms.error} />
      <table aria-label="Rooms">
        <thead>
          <tr>
            <th>Room id</th>
            <th>Custom id</th>
            <th>State</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rooms.value?.data.map((room) => (
            <tr key={room.id}>
              <td class="mono">{room.roomId}</td>
              <td>{room.customRoomId ?? '—'}</td>
              <td>{room.disabled ? 'deactivated' : 'active'}</td>
              <td>{time(room.createdAt)}</td>
              <td>
                {!room.disabled && (
                  <button
                    type="button"
                    class="danger"
                    aria-label={`Deactivate ${room.customRoomId ?? room.roomId}`}
                    disabled={action.busy}
                    onClick={() =>
                      action.run(async () => {
                        await request<Room>(credentials, 'POST', '/v2/rooms/deactivate', { roomId: room.roomId });
                        rooms.reload();
                        return `Room ${room.customRoomId ?? room.roomId} deactivated: its session ended, new joins and calls are refused`;
                      })
                    }
                  >
                    Deactivate
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rooms.value?.data.length === 0 && <p class="muted">No rooms{query ? ` match ${query}` : ''}.</p>}
      <Pager info={rooms.value?.pageInfo} onPage={setPage} />
    </section>
  );
}
