import { DroverClient } from '@drover/client';

/** A client of the same-origin API for one app, authorised by `token`. */
export function clientFor(app: string, token: string): DroverClient {
  return new DroverClient({ url: window.location.origin, app, secret: token });
}
