// Whether Drover runs from its TypeScript sources (tests, `--conditions=drover-source`
// under tsx) or from built JavaScript: from sources a .ts loader is in place
// already, and sibling files end in .ts. The packages are built together, so
// this file's own extension answers for all of them.

export const FROM_SOURCE = import.meta.url.endsWith('.ts');
