import { config } from 'zod/v4';

// The server's CSP allows no eval: zod must not probe for `new Function` (the
// refused probe is reported as a CSP violation) nor compile its parsers.
// Imported first by main.tsx, so it runs before any schema is built.
config({ jitless: true });
