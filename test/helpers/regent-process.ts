import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { onTestFinished } from 'vitest';
import { spawnTypeScript } from './node-process.js';
import { opaPath } from './opa-path.js';
import { EXAMPLE_POLICIES } from './start-regent.js';

export interface RegentProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** The 'regent listening' log line, parsed. */
  listening: Record<string, unknown>;
}

/**
 * `src/main.ts --dev` as its own process on `dataDir` (the Node running the tests, port 0, the example
 * policies, the pinned OPA), resolved once it logs where it listens; SIGKILLed after the test if it
 * still runs. For what only a separate process shows: crashes, restarts, the process's own runtime.
 */
export async function spawnRegentProcess(dataDir: string): Promise<RegentProcess> {
  const child = spawnTypeScript('src/main.ts', ['--dev'], {
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/',
      REGENT_DATA_DIR: dataDir, REGENT_HOST: '127.0.0.1', REGENT_PORT: '0', REGENT_SEED_DIR: EXAMPLE_POLICIES, REGENT_OPA_PATH: opaPath(), REGENT_LOG_LEVEL: 'info',
    },
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`Regent did not start:\n${output.slice(-3000)}`)), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').slice(0, -1).find((entry) => entry.includes('"msg":"regent listening"'));
      if (line) {
        clearTimeout(timer);
        const listening = JSON.parse(line) as Record<string, unknown>;
        resolveStart({ child, url: String(listening.url), listening });
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`Regent exited (${code ?? signal}) before listening:\n${output.slice(-3000)}`)));
  });
}

/** Waits until `/health/ready` answers 200 (the first activation after start is done). */
export async function waitUntilReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const response = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('Regent never became ready');
}
