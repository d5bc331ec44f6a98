import { fileURLToPath } from 'node:url';

/** The built console (index.html and assets), which drover-server serves under `/`. */
export const consoleDir = fileURLToPath(new URL('./dist/', import.meta.url));
