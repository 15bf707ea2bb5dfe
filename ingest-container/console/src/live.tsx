import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError, request, withQuery, type Credentials, type NumberedPage } from './api';
import { RoomConnection, type FrameCounts, type RoomParticipant } from './room';
import type { Agent, Session, SessionParticipant } from './types';
import { ActionForm, ErrorNote, Outcome, time, useAction, useResource } from './ui';

/** A level above which a participant shows as speaking. */
const SPEAKING = 0.05;
const REFRESH_MS = 3000;

/**
 * Live rooms (the sessions API) with their participants; removing one, dispatching an agent; joining a room. It stays
 * mounted while other views show (`active` false), so a room joined here stays joined; only its lists stop refreshing.
 */
export function LiveView({ credentials, initialRoom, active }: { credentials: Credentials; initialRoom: string; active: boolean }) {
  return (
    <section aria-labelledby="live-title" hidden={!active}>
      <h2 id="live-title">Live rooms</h2>
      <div class="cols">
        <div>{active && <LiveSessions credentials={credentials} />}</div>
        <JoinRoom credentials={credentials} initialRoom={initialRoom} />
      </div>
    </section>
  );
}

function LiveSessions({ credentials }: { credentials: Credentials }) {
  const sessions = useResource<NumberedPage<Session>>(credentials, withQuery('/v2/sessions', { status: 'ongoing', perPage: 50 }), REFRESH_MS);
  return (
    <>
      <ErrorNote error={sessions.error && `Live sessions (GET /v2/sessions): ${sessions.error}`} />
      {sessions.value?.data.length === 0 && <p class="muted">No room has anyone in it.</p>}
      {sessions.value?.data.map((session) => (
        <LiveSession key={session.id} credentials={credentials} session={session} />
      ))}
      <Dispatch credentials={credentials} />
    </>
  );
}

function LiveSession({ credentials, session }: { credentials: Credentials; session: Session }) {
  const path = withQuery(`/v2/sessions/${encodeURIComponent(session.id)}/participants/active`, { perPage: 100 });
  const active = useResource<{ data: { participants: SessionParticipant[] } }>(credentials, path, REFRESH_MS);
  const action = useAction();
  const room = session.customRoomId ?? session.roomId;
  return (
    <div class="panel" role="region" aria-label={`Live room ${room}`}>
      <h3>
        {room} <span class="muted">since {time(session.start)}</span>
      </h3>
      <ErrorNote error={active.error} />
      <Outcome state={action} />
      <ul class="people">
        {active.value?.data.participants.map((p) => (
          <li key={p.participantId}>
            <span class="name">
              {p.name ?? p.participantId} <span class="muted">({p.kind}{p.callId ? `, ${p.callId}` : ''})</span>
            </span>
            <span class="muted">since {time(p.timelog[p.timelog.length - 1]?.start)}</span>
            <button
              type="button"
              class="danger"
              aria-label={`Remove ${p.name ?? p.participantId}`}
              disabled={action.busy}
              onClick={() =>
                action.run(async () => {
                  const answer = await request<{ message: string }>(credentials, 'POST', '/v2/sessions/participants/remove', { roomId: session.roomId, participantId: p.participantId });
                  active.reload();
                  return answer.message;
                })
              }
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** `POST /v2/agent/dispatch`: a registered agent dialled into a room now. */
function Dispatch({ credentials }: { credentials: Credentials }) {
  const agents = useResource<NumberedPage<Agent>>(credentials, withQuery('/v2/agents', { perPage: 100 }));
  const action = useAction();
  return (
    <fieldset>
      <legend>Dispatch an agent</legend>
      <ErrorNote error={agents.error} />
      <ActionForm
        label="Dispatch"
        busy={action.busy}
        onSubmit={(fields) =>
          action.run(async () => {
            const answer = await request<{ data: { jobId: string; status: string } }>(credentials, 'POST', '/v2/agent/dispatch', { agentId: fields.agentId, roomId: fields.roomId });
            return `Agent dispatched: job ${answer.data.jobId}, ${answer.data.status}`;
          })
        }
      >
        <label>
          Agent
          <select name="agentId" required>
            {agents.value?.data.map((agent) => (
              <option key={agent.id} value={agent.id}>
                {agent.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Into room
          <input name="roomId" required size={14} />
        </label>
      </ActionForm>
      <Outcome state={action} />
    </fieldset>
  );
}

function describe(p: RoomParticipant): string {
  if (p.kind === 'phone' && p.phone) return `Caller ${p.phone.from} → ${p.phone.to}`;
  return p.kind === 'agent' ? `Agent ${p.id}` : `Web ${p.id}`;
}

declare global {
  interface Window {
    roomConsole?: RoomConnection;
  }
}

/** Joining a room over the room protocol: with the microphone, or listening only. */
function JoinRoom({ credentials, initialRoom }: { credentials: Credentials; initialRoom: string }) {
  const [room, setRoom] = useState<string | null>(null);
  const [participants, setParticipants] = useState<Map<string, RoomParticipant>>(new Map());
  const [levels, setLevels] = useState<Record<string, number>>({});
  const [quality, setQuality] = useState<Record<string, FrameCounts>>({});
  const [myLevel, setMyLevel] = useState(0);
  const [muted, setMuted] = useState(false);
  const [microphone, setMicrophone] = useState(true);
  const [roomField, setRoomField] = useState(initialRoom);
  const [log, setLog] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const connection = useRef<RoomConnection | null>(null);
  const note = (line: string) => setLog((lines) => [...lines.slice(-199), `${new Date().toLocaleTimeString()} ${line}`]);
  const name = (id: string, known: Map<string, RoomParticipant>) => describe(known.get(id) ?? { id, kind: 'web' });

  useEffect(() => () => connection.current?.leave(), []);

  const join = (roomId: string, withMicrophone: boolean) => {
    setBusy(true);
    setError(null);
    const joined = new RoomConnection({
      event: (event) => {
        switch (event.type) {
          case 'joined':
            setParticipants(new Map(event.participants.map((p) => [p.id, p])));
            note(`joined ${event.roomId} as ${event.participantId}`);
            break;
          case 'participant-joined':
            setParticipants((known) => new Map(known).set(event.participant.id, event.participant));
            note(`${describe(event.participant)} joined`);
            break;
          case 'participant-left':
            setParticipants((known) => {
              note(`${name(event.participantId, known)} left (${event.reason})`);
              const next = new Map(known);
              next.delete(event.participantId);
              return next;
            });
            break;
          case 'levels':
            setLevels(event.levels);
            break;
          case 'quality':
            setQuality(event.quality);
            break;
          case 'dtmf':
            note(`DTMF ${event.digit} from ${event.participantId}`);
            break;
          case 'checkpoint-played':
            note(`checkpoint ${event.name} played`);
            break;
          case 'error':
            note(`error: ${event.message}${event.code ? ` (${event.code})` : ''}`);
            break;
        }
      },
      level: setMyLevel,
      closed: (why) => {
        setError(why);
        note(why);
        setRoom(null);
        setParticipants(new Map());
      },
    });
    connection.current = joined;
    window.roomConsole = joined;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    joined.join(credentials, `${scheme}//${location.host}`, roomId, withMicrophone).then(
      () => {
        setRoom(roomId);
        setMuted(false);
        setBusy(false);
      },
      (err: unknown) => {
        joined.leave();
        const message = describeError(err);
        setError(message);
        note(message);
        setBusy(false);
      },
    );
  };

  if (!room) {
    return (
      <div class="panel">
        <h3>Join a room</h3>
        <ErrorNote error={error} />
        <ActionForm label={microphone ? 'Join with microphone' : 'Listen only'} busy={busy} onSubmit={() => join(roomField.trim(), microphone)}>
          <label>
            Room id
            <input name="room" required value={roomField} onInput={(event) => setRoomField(event.currentTarget.value)} size={16} />
          </label>
          <label class="inline">
            <input type="checkbox" checked={!microphone} onChange={(event) => setMicrophone(!event.currentTarget.checked)} /> listen only (no microphone)
          </label>
        </ActionForm>
        <EventLog lines={log} />
      </div>
    );
  }
  return (
    <div class="panel" role="region" aria-labelledby="in-room-title">
      <h3 id="in-room-title">In room {room}</h3>
      <div class="bar">
        {microphone && (
          <button type="button" aria-pressed={muted} onClick={() => (connection.current?.setMuted(!muted), setMuted(!muted))}>
            {muted ? 'Unmute' : 'Mute'}
          </button>
        )}
        <button type="button" onClick={() => (connection.current?.leave(), setRoom(null), setParticipants(new Map()))}>
          Leave
        </button>
        {microphone ? (
          <label class="inline">
            My microphone <meter min={0} max={1} value={myLevel} />
          </label>
        ) : (
          <span class="muted">listening only</span>
        )}
      </div>
      <ul class="people" aria-label="Participants" aria-live="polite">
        {[...participants.values()].map((p) => {
          const level = levels[p.id] ?? 0;
          return (
            <li key={p.id} data-id={p.id}>
              <span class={`speaking${level > SPEAKING ? ' on' : ''}`} title={level > SPEAKING ? 'speaking' : 'quiet'} />
              <span class="name">{describe(p)}</span>
              <meter min={0} max={1} value={level} aria-label={`${describe(p)} level`} />
              <Quality counts={quality[p.id]} />
              {p.kind === 'phone' && (
                <button type="button" aria-label={`Hang up ${describe(p)}`} onClick={() => connection.current?.send({ type: 'hangup', participantId: p.id })}>
                  Hang up
                </button>
              )}
            </li>
          );
        })}
      </ul>
      <h3 id="keypad-title">Send DTMF to callers</h3>
      <div id="keypad" role="group" aria-labelledby="keypad-title">
        {[...'123456789*0#'].map((digit) => (
          <button key={digit} type="button" aria-label={`DTMF ${digit}`} onClick={() => connection.current?.send({ type: 'send-dtmf', digits: digit })}>
            {digit}
          </button>
        ))}
      </div>
      <EventLog lines={log} />
    </div>
  );
}

/** A participant's `quality` counts since it joined, beside its meter; nothing until the first event (2 s). */
function Quality({ counts }: { counts: FrameCounts | undefined }) {
  if (!counts) return null;
  return (
    <span
      class="quality muted"
      title="Frames received from and sent to this participant; dropped: not sent to it (it was behind reading), and of its audio (a burst); late: times its audio ran dry (jitter buffer underruns)"
    >
      in {counts.framesIn} · out {counts.framesOut} · dropped {counts.droppedOut} out, {counts.droppedIn} in · late {counts.underruns}
    </span>
  );
}

const EventLog = ({ lines }: { lines: string[] }) => (
  <>
    <h3>Events</h3>
    <div class="log" role="log" aria-live="polite" tabindex={0}>
      {lines.map((line, i) => (
        <div key={i}>{line}</div>
      ))}
    </div>
  </>
);
