export type { UpCluster, UpOptions } from './up/up.js';
export { up } from './up/up.js';
