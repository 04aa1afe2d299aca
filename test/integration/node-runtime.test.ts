import { execFile } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { spawnRegentProcess } from '../helpers/regent-process.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

const run = promisify(execFile);

/**
 * `npm test` and `npm run test:node24` run the same suite on two Nodes (scripts/run-suite.mjs). These
 * hold that nothing the tests start lands on another Node than the one under test.
 */
describe('the Node under test', () => {
  test('is the binary the suite runner named, and a `#!/usr/bin/env node` script the tests start runs on it too', async () => {
    const self = realpathSync(process.execPath);
    if (process.env.REGENT_SUITE_NODE !== undefined) expect(self).toBe(realpathSync(process.env.REGENT_SUITE_NODE));
    const dir = tempDirForTest('regent-shebang-');
    const script = join(dir, 'report-node.js');
    writeFileSync(script, '#!/usr/bin/env node\nprocess.stdout.write(JSON.stringify({ execPath: process.execPath, version: process.version }));\n', { mode: 0o755 });
    const child = JSON.parse((await run(script, [])).stdout) as { execPath: string; version: string };
    expect({ execPath: realpathSync(child.execPath), version: child.version }, 'PATH names another node first: run the suite with scripts/run-suite.mjs --node <path>')
      .toEqual({ execPath: self, version: process.version });
  });

  test('runs a Regent process the tests start, which says so in its start-up log', async () => {
    const regent = spawnRegentProcess(tempDirForTest('regent-node-'));
    await regent.listening;
    const line = regent.output().split('\n').find((entry) => entry.includes('"msg":"regent listening"'));
    expect((JSON.parse(line!) as { node?: string }).node).toBe(process.version);
    regent.child.kill('SIGTERM');
    await new Promise((done) => regent.child.once('exit', done));
  });
});
