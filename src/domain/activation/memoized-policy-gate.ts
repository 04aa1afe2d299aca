import { createHash } from 'node:crypto';
import type { GateInput, GateReport, PolicyGate } from './policy-gate.js';

/**
 * The gate's verdict is a pure function of the files it is given (OPA's version and the capabilities are
 * fixed for the life of the process), so it is remembered by a digest of the candidate tree's paths and
 * contents: an admin API write is checked once before it is committed, and its revision is not checked
 * again by the activation that follows; two identical checks in flight share one OPA run. Only verdicts
 * are remembered; a check that failed to run (OPA timed out, crashed) is not, and is tried again.
 */
export class MemoizedPolicyGate implements PolicyGate {
  private readonly verdicts = new Map<string, Promise<GateReport>>();

  constructor(private readonly inner: PolicyGate, private readonly maxEntries = 32) {}

  async check(input: GateInput): Promise<GateReport> {
    const started = performance.now();
    const key = treeDigest(input.files);
    const known = this.verdicts.get(key);
    if (known) {
      const report = await known;
      return { ...report, durationMs: Math.round(performance.now() - started), cached: true };
    }
    const running = this.inner.check(input);
    this.remember(key, running);
    try {
      return await running;
    } catch (error) {
      if (this.verdicts.get(key) === running) this.verdicts.delete(key);
      throw error;
    }
  }

  private remember(key: string, report: Promise<GateReport>): void {
    this.verdicts.set(key, report);
    if (this.verdicts.size > this.maxEntries) this.verdicts.delete(this.verdicts.keys().next().value as string);
  }
}

/** SHA-256 over the files sorted by path: each path and the SHA-256 of its content, NUL-separated. */
function treeDigest(files: GateInput['files']): string {
  const hash = createHash('sha256');
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sorted) {
    hash.update(file.path).update('\0').update(createHash('sha256').update(file.content).digest()).update('\0');
  }
  return hash.digest('hex');
}
