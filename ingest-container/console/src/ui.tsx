import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { describeError, request, type Credentials } from './api';

/** A resource loaded from the API: its value, the error that stopped it, and `reload`. */
export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: string | null;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** Loads `path` (again when it changes, and every `refreshMs` while the view is open); null: nothing to load. */
export function useResource<T>(credentials: Credentials, path: string | null, refreshMs = 0): Loaded<T> {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => {
    if (path === null) return;
    let current = true;
    setLoading(true);
    request<T>(credentials, 'GET', path).then(
      (answer) => {
        if (!current) return;
        setValue(answer);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (!current) return;
        setError(describeError(err));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [credentials, path, tick]);
  useEffect(() => {
    if (refreshMs <= 0) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, reload]);
  return { value, error, loading, reload };
}

/** An action's outcome for its form: what went wrong (the API's message and code), or what it did. */
export interface ActionState {
  readonly busy: boolean;
  readonly error: string | null;
  readonly done: string | null;
  /** Runs `action`; its resolved text is shown as done. */
  readonly run: (action: () => Promise<string>) => void;
}

export function useAction(): ActionState {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );
  const run = useCallback((action: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setDone(null);
    action().then(
      (text) => mounted.current && (setDone(text), setBusy(false)),
      (err: unknown) => mounted.current && (setError(describeError(err)), setBusy(false)),
    );
  }, []);
  return { busy, error, done, run };
}

export const ErrorNote = ({ error }: { error: string | null }) => (error ? <p class="error" role="alert">{error}</p> : null);

export const Outcome = ({ state }: { state: ActionState }) => (
  <>
    <ErrorNote error={state.error} />
    {state.done && (
      <p class="notice" role="status">
        {state.done}
      </p>
    )}
  </>
);

export const Status = ({ value }: { value: string }) => <span class={`status ${value}`}>{value}</span>;

export const time = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');

/** Previous/next over a numbered list's `pageInfo`. */
export function Pager({ info, onPage }: { info: { currentPage: number; lastPage: number; total: number; totalIsLowerBound?: boolean } | undefined; onPage: (page: number) => void }) {
  if (!info) return null;
  return (
    <div class="pager">
      <button type="button" disabled={info.currentPage <= 1} onClick={() => onPage(info.currentPage - 1)}>
        Previous page
      </button>
      <span>
        Page {info.currentPage} of {info.lastPage} ({info.totalIsLowerBound ? 'at least ' : ''}
        {info.total} in all)
      </span>
      <button type="button" disabled={info.currentPage >= info.lastPage} onClick={() => onPage(info.currentPage + 1)}>
        Next page
      </button>
    </div>
  );
}

/** A form's text fields by name, trimmed (a checkbox that is checked is `on`). */
export function fieldsOf(form: HTMLFormElement): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of new FormData(form)) if (typeof value === 'string') fields[name] = value.trim();
  return fields;
}

/** A form whose submit runs `onSubmit` with its fields by name. */
export function ActionForm({ label, onSubmit, children, busy }: { label: string; onSubmit: (fields: Record<string, string>) => void; children: ComponentChildren; busy?: boolean }) {
  return (
    <form
      class="bar"
      aria-label={label}
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit(fieldsOf(event.currentTarget));
      }}
    >
      {children}
      <button type="submit" class="primary" disabled={busy}>
        {label}
      </button>
    </form>
  );
}
