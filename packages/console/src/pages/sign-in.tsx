import { DroverApiError } from '@drover/client';
import { apiViews } from '@drover/protocol';
import { useState } from 'preact/hooks';
import { errorText } from '../api.js';
import { clientFor } from '../client.js';
import { type Session, saveSession } from '../session.js';
import { PageTitle } from '../ui/bits.js';

/** Sign in with an app's token, or with the admin token and then pick an app. */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [mode, setMode] = useState<'app' | 'admin'>('app');
  const [app, setApp] = useState('');
  const [token, setToken] = useState('');
  const [adminToken, setAdminToken] = useState('');
  const [apps, setApps] = useState<string[] | null>(null);
  const [picked, setPicked] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const finish = (session: Session) => {
    saveSession(session);
    onSignedIn(session);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      if (mode === 'app') {
        const name = app.trim();
        if (!name || !token) throw new Error('Enter the app and its token.');
        await clientFor(name, token).request(
          apiViews.AppView,
          'GET',
          `/apps/${encodeURIComponent(name)}`,
        );
        finish({ app: name, token, admin: false });
      } else {
        if (!adminToken) throw new Error('Enter the admin token.');
        const names = (await clientFor('-', adminToken).listApps()).map((a) => a.name);
        if (names.length === 0)
          throw new Error('The server has no apps yet: create one (drover app create).');
        if (names.length === 1 && names[0])
          finish({ app: names[0], token: adminToken, admin: true });
        else {
          setApps(names);
          setPicked(names[0] ?? '');
        }
      }
    } catch (err) {
      setError(signInError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="sign-in">
      <PageTitle>Sign in to Drover</PageTitle>
      {apps ? (
        <form
          class="card form"
          onSubmit={(e) => {
            e.preventDefault();
            finish({ app: picked, token: adminToken, admin: true });
          }}
        >
          <label for="pick-app">Open which app</label>
          <select id="pick-app" value={picked} onChange={(e) => setPicked(e.currentTarget.value)}>
            {apps.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
          <button type="submit" class="primary">
            Open
          </button>
        </form>
      ) : (
        <form
          class="card form"
          onSubmit={submit}
          aria-describedby={error ? 'sign-in-error' : undefined}
        >
          {mode === 'app' ? (
            <>
              <label for="sign-in-app">App</label>
              <input
                id="sign-in-app"
                autoComplete="username"
                required
                value={app}
                onInput={(e) => setApp(e.currentTarget.value)}
              />
              <label for="sign-in-token">Token</label>
              <input
                id="sign-in-token"
                type="password"
                autoComplete="current-password"
                required
                value={token}
                onInput={(e) => setToken(e.currentTarget.value)}
              />
            </>
          ) : (
            <>
              <label for="sign-in-admin">Admin token</label>
              <input
                id="sign-in-admin"
                type="password"
                autoComplete="current-password"
                required
                value={adminToken}
                onInput={(e) => setAdminToken(e.currentTarget.value)}
              />
            </>
          )}
          {error && (
            <p id="sign-in-error" class="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
          <button
            type="button"
            class="link"
            onClick={() => {
              setError(null);
              setMode(mode === 'app' ? 'admin' : 'app');
            }}
          >
            {mode === 'app' ? 'Use the admin token instead' : 'Use an app’s token instead'}
          </button>
        </form>
      )}
      <p class="hint">
        The token stays in this browser tab only (session storage) and is sent to this server alone.
      </p>
    </div>
  );
}

function signInError(err: unknown): string {
  if (err instanceof DroverApiError) {
    if (err.status === 401) return 'The server refused that token (401).';
    if (err.status === 404)
      return 'This server does not list apps for the admin token (no GET /api/v1/apps).';
    if (err.status === 403) return err.message;
  }
  return errorText(err);
}
