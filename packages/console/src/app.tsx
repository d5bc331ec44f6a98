import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Link, Redirect, Route, Switch, useLocation } from 'wouter-preact';
import { clientFor } from './client.js';
import { type ConsoleContext, Ctx } from './context.js';
import { EventStream, type StreamState } from './live/event-stream.js';
import { JobForm } from './pages/job-form.js';
import { Jobs } from './pages/jobs.js';
import { Overview } from './pages/overview.js';
import { RunPage } from './pages/run-page.js';
import { Runs } from './pages/runs.js';
import { SignIn } from './pages/sign-in.js';
import { Workers } from './pages/workers.js';
import { WorkflowRunPage } from './pages/workflow-run.js';
import { Workflows } from './pages/workflows.js';
import { clearSession, loadSession, type Session, saveSession } from './session.js';
import { useLoad } from './ui/bits.js';

const LIVE_TEXT: Record<StreamState, string> = {
  open: 'Live',
  connecting: 'Connecting…',
  retrying: 'Reconnecting…',
  unauthorized: 'Signed out',
  closed: 'Offline',
};

const NAV = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/runs', 'Runs'],
  ['/workers', 'Workers'],
  ['/workflows', 'Workflows'],
] as const;

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [location, navigate] = useLocation();
  // The page asked for before signing in (a shared link to a run), opened after it.
  const wanted = useRef('/');
  if (!session && location !== '/sign-in') wanted.current = `${location}${window.location.search}`;

  if (!session) {
    return (
      <main id="main" class="main">
        <Route path="/sign-in">
          <SignIn
            onSignedIn={(s) => {
              setSession(s);
              navigate(wanted.current);
              wanted.current = '/';
            }}
          />
        </Route>
        {location !== '/sign-in' && <Redirect to="/sign-in" replace />}
      </main>
    );
  }
  return (
    <SignedIn
      key={`${session.app}\n${session.token}`}
      session={session}
      onSession={(s) => {
        if (s) saveSession(s);
        else clearSession();
        setSession(s);
        navigate(s ? '/' : '/sign-in');
      }}
    />
  );
}

function SignedIn({
  session,
  onSession,
}: {
  session: Session;
  onSession: (s: Session | null) => void;
}) {
  const ctx = useMemo<ConsoleContext>(
    () => ({
      session,
      client: clientFor(session.app, session.token),
      events: new EventStream({
        url: `/api/v1/apps/${encodeURIComponent(session.app)}/events`,
        token: session.token,
      }),
    }),
    [session],
  );
  const [live, setLive] = useState<StreamState>('connecting');
  const [menuOpen, setMenuOpen] = useState(false);
  const [location] = useLocation();

  // The shell holds the one stream open while signed in; pages subscribe to it.
  useEffect(() => {
    const stopState = ctx.events.onState(setLive);
    const stop = ctx.events.subscribe(() => undefined);
    return () => {
      stopState();
      stop();
      ctx.events.close();
    };
  }, [ctx]);

  // A new page: close the menu and move focus to its heading (screen readers hear the change).
  const first = useRef(true);
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [location]);

  // The token no longer works (revoked, server restarted with another admin token).
  useEffect(() => {
    if (live === 'unauthorized') onSession(null);
  }, [live, onSession]);

  return (
    <Ctx.Provider value={ctx}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Drover</span>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" class={menuOpen ? 'open' : ''}>
          <ul>
            {NAV.map(([href, label]) => {
              const current = href === '/' ? location === '/' : location.startsWith(href);
              return (
                <li key={href}>
                  <Link href={href} aria-current={current ? 'page' : undefined}>
                    {label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <div class="who">
          {session.admin ? (
            <AppSwitch session={session} onSession={onSession} />
          ) : (
            <span>{session.app}</span>
          )}
          <span class={`live live-${live}`} title="Live updates from the server's event stream">
            {LIVE_TEXT[live]}
          </span>
          <button type="button" onClick={() => onSession(null)}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="main">
        <Switch>
          <Route path="/" component={Overview} />
          <Route path="/jobs" component={Jobs} />
          <Route path="/jobs/new" component={JobForm} />
          <Route path="/jobs/:id" component={JobForm} />
          <Route path="/runs" component={Runs} />
          <Route path="/runs/:id" component={RunPage} />
          <Route path="/workers" component={Workers} />
          <Route path="/workflows" component={Workflows} />
          <Route path="/workflows/runs/:id" component={WorkflowRunPage} />
          <Route path="/sign-in">
            <Redirect to="/" replace />
          </Route>
          <Route>
            <h1>Page not found</h1>
            <p>
              <Link href="/">Back to the overview</Link>
            </p>
          </Route>
        </Switch>
      </main>
    </Ctx.Provider>
  );
}

/** An admin token reaches every app: switch between them. */
function AppSwitch({
  session,
  onSession,
}: {
  session: Session;
  onSession: (s: Session | null) => void;
}) {
  const apps = useLoad(() => clientFor(session.app, session.token).listApps(), [session.token]);
  const names = apps.data?.map((a) => a.name) ?? [session.app];
  return (
    <label class="app-switch">
      <span class="visually-hidden">Current app</span>
      <select
        value={session.app}
        onChange={(e) => onSession({ ...session, app: e.currentTarget.value })}
      >
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}
