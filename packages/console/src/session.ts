// What the console keeps of a sign-in: in sessionStorage only (gone when the
// tab closes; never the URL, never localStorage).

export interface Session {
  /** The app whose pages are shown (for an admin, the one picked). */
  app: string;
  /** The app's secret or the admin token. */
  token: string;
  /** Signed in with the admin token (may switch apps). */
  admin: boolean;
}

const KEY = 'drover.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Session>;
    if (typeof value.token !== 'string' || typeof value.app !== 'string') return null;
    return { app: value.app, token: value.token, admin: value.admin === true };
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
