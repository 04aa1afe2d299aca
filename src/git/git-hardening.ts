import { runGit } from './git-process.js';

/** Constant hardening written into the store's local config on every open (see {@link applyHardening}). */
export const HARDENING_CONFIG: ReadonlyArray<readonly [key: string, value: string]> = [
  ['core.hooksPath', '/dev/null'],
  ['core.fsmonitor', 'false'],
  ['core.logAllRefUpdates', 'always'],
  ['core.fsync', 'committed'],
  ['receive.denyNonFastForwards', 'true'],
  ['receive.denyDeletes', 'true'],
  ['transfer.fsckObjects', 'true'],
  ['gc.auto', '0'],
  ['protocol.allow', 'never'],
  ['protocol.file.allow', 'always'],
  ['protocol.https.allow', 'always'],
  ['protocol.ssh.allow', 'always'],
];

/**
 * Writes {@link HARDENING_CONFIG} into the store's local config, skipping keys that already hold the
 * right value (one `git config --list` on a re-open). The writes bypass simple-git on purpose: its guard
 * refuses `hooksPath`/`fsmonitor`/`protocol` keys, and the values here are constants, not input.
 */
export async function applyHardening(dir: string): Promise<void> {
  const { stdout } = await runGit({ dir, args: ['config', '--local', '--list', '-z'] });
  const current = new Map<string, string>();
  for (const entry of stdout.toString('utf8').split('\0')) {
    const newline = entry.indexOf('\n');
    if (newline > 0) current.set(entry.slice(0, newline).toLowerCase(), entry.slice(newline + 1));
  }
  for (const [key, value] of HARDENING_CONFIG) {
    if (current.get(key.toLowerCase()) !== value) await runGit({ dir, args: ['config', '--local', key, value] });
  }
}
