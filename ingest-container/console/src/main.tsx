import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Credentials } from './api';
import { CallsView } from './calls';
import { ConnectorsView } from './connectors';
import { LiveView } from './live';
import { RoomsView } from './rooms';
import { fieldsOf } from './ui';
import { WebhooksView } from './webhooks';

/**
 * The operator console. Locally `npm start` prints its link with a management token in the fragment (never sent to a
 * server, nor logged); in AWS it asks for the token. The token is kept for this tab only (sessionStorage).
 */
const VIEWS = { live: 'Live rooms', calls: 'Calls', rooms: 'Rooms', connectors: 'Connectors', webhooks: 'Webhooks' } as const;
type View = keyof typeof VIEWS;
const STORED = 'plivo-console';

function initialView(): View {
  const asked = new URLSearchParams(location.search).get('view');
  return asked !== null && asked in VIEWS ? (asked as View) : 'live';
}

function App({ apiUrl }: { apiUrl: string }) {
  const [credentials, setCredentials] = useState<Credentials | null>(() => {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const token = fragment.get('token');
    if (token) {
      // Out of the address bar (and its history entry) once read: the tab keeps it.
      history.replaceState(null, '', location.pathname + location.search);
      sessionStorage.setItem(STORED, JSON.stringify({ apiUrl, token }));
      return { apiUrl, token };
    }
    const stored = sessionStorage.getItem(STORED);
    return stored ? (JSON.parse(stored) as Credentials) : null;
  });
  const [view, setView] = useState<View>(initialView);
  const room = useMemo(() => new URLSearchParams(location.search).get('room') ?? 'demo-room', []);
  useEffect(() => {
    const params = new URLSearchParams(location.search);
    params.set('view', view);
    history.replaceState(null, '', `${location.pathname}?${params}`);
  }, [view]);

  if (!credentials) return <SignIn apiUrl={apiUrl} signedIn={setCredentials} />;
  return (
    <>
      <header>
        <h1>Plivo connector console</h1>
        <span class="who">{credentials.apiUrl}</span>
        <button
          type="button"
          onClick={() => {
            sessionStorage.removeItem(STORED);
            setCredentials(null);
          }}
        >
          Sign out
        </button>
      </header>
      <nav aria-label="Views">
        {(Object.keys(VIEWS) as View[]).map((name) => (
          <button key={name} type="button" aria-current={view === name ? 'page' : undefined} onClick={() => setView(name)}>
            {VIEWS[name]}
          </button>
        ))}
      </nav>
      <main>
        <LiveView credentials={credentials} initialRoom={room} active={view === 'live'} />
        {view === 'calls' && <CallsView credentials={credentials} />}
        {view === 'rooms' && <RoomsView credentials={credentials} />}
        {view === 'connectors' && <ConnectorsView credentials={credentials} />}
        {view === 'webhooks' && <WebhooksView credentials={credentials} />}
      </main>
    </>
  );
}

function SignIn({ apiUrl, signedIn }: { apiUrl: string; signedIn: (credentials: Credentials) => void }) {
  return (
    <form
      class="login panel"
      aria-label="Sign in"
      onSubmit={(event) => {
        event.preventDefault();
        const fields = fieldsOf(event.currentTarget);
        const credentials = { apiUrl: (fields.apiUrl ?? '').replace(/\/+$/, ''), token: fields.token ?? '' };
        sessionStorage.setItem(STORED, JSON.stringify(credentials));
        signedIn(credentials);
      }}
    >
      <h1>Plivo connector console</h1>
      <label>
        API URL
        <input name="apiUrl" required type="url" value={apiUrl} />
      </label>
      <label>
        Management token (allow_mod)
        <input name="token" required type="password" autocomplete="off" />
      </label>
      <button type="submit" class="primary">
        Sign in
      </button>
    </form>
  );
}

/** Which API to call: the media server's `CONSOLE_API_URL`, else this origin (`npm start` serves both). */
async function start(): Promise<void> {
  const root = document.getElementById('app') as HTMLElement;
  let apiUrl = location.origin;
  try {
    const config = (await (await fetch('/console/config.json')).json()) as { apiUrl: string | null };
    apiUrl = config.apiUrl?.replace(/\/+$/, '') ?? apiUrl;
  } catch {
    // The console's own server always serves it; without it the API is taken to be here.
  }
  root.replaceChildren();
  render(<App apiUrl={apiUrl} />, root);
}

void start();
