// After `tsc`: the `regent` bin (package.json "bin") must be executable for `npm link` and `npx regent`.
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

chmodSync(fileURLToPath(new URL('../dist/cli/regent.js', import.meta.url)), 0o755);
