import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Longest Unix socket path Linux takes (108 bytes with the terminating NUL), with a margin. */
const MAX_SOCKET_PATH = 100;

/**
 * Where the primary listens when worker processes serve the public port: a Unix socket in a directory
 * only Regent's user may enter (`<dataDir>/run`, mode 0700; a fresh private directory under the system's
 * temporary one when that path is too long for a socket), so nothing else on the host can reach the
 * primary and claim to be a worker. A socket left by a Regent that died is removed (the data directory's
 * lock says no other Regent uses it).
 */
export function primarySocketPath(dataDir: string): { path: string; cleanup(): void } {
  const runDir = join(dataDir, 'run');
  let dir = runDir;
  let temporary = false;
  if (join(runDir, 'primary.sock').length > MAX_SOCKET_PATH) {
    dir = mkdtempSync(join(tmpdir(), 'regent-run-'));
    temporary = true;
  } else {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    chmodSync(runDir, 0o700);
  }
  const path = join(dir, 'primary.sock');
  rmSync(path, { force: true });
  return {
    path,
    cleanup() {
      rmSync(temporary ? dir : path, { force: true, recursive: temporary });
    },
  };
}

/** Listens on the private socket `path`, readable and writable by Regent's user only. */
export async function listenPrivately(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ path }, () => resolveListen());
  });
  chmodSync(path, 0o600);
}
