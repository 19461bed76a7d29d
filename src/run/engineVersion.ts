// The engine's version, as package.json gives it, fixed at build time so a run record names the
// code that produced it (the studio has no package.json to read at run time). The file comes in as
// text: tsconfig has no resolveJsonModule, and Vite's `?raw` works in the studio, the Node bundle
// and Vitest alike.

import packageJson from '../../package.json?raw';

export const ENGINE_VERSION: string = (JSON.parse(packageJson) as { version: string }).version;
