import { createHash } from 'node:crypto';
import { isRegentError } from '../errors.js';
import { WORK_PRIORITIES, type WorkPriority } from '../work-priority.js';
import type { GateInput, GateReport, PolicyGate } from './policy-gate.js';

interface Entry {
  report: Promise<GateReport>;
  /** Settled with a verdict worth keeping; until then the entry is a check in flight. */
  settled: boolean;
  priority: WorkPriority;
}

/**
 * The gate's verdict is a pure function of the files it is given and of the capabilities they are checked
 * against (Regent's OPA is fixed for the life of the process; `opaVersion` names the fleet's oldest OPA
 * when it is older), so it is remembered by a digest of the candidate tree's paths and contents and that
 * version: an admin API write is checked once before it is committed, and its revision is not checked
 * again by the activation that follows, unless the fleet's oldest OPA changed in between.
 *
 * Only verdicts are remembered, and only those that do not depend on the machine: a check that gave no
 * verdict (OPA busy, silent, crashed, over its limits) is forgotten at once and tried again by the next
 * caller, and so is a verdict with `cacheable: false`. When OPA runs and gives no verdict, every
 * remembered verdict is dropped: the OPA that gave them is not the one answering now. Identical checks in flight share one OPA run,
 * unless the one in flight waits at a lower priority than the new caller (it might sit behind slow work).
 */
export class MemoizedPolicyGate implements PolicyGate {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly inner: PolicyGate, private readonly maxEntries = 32) {}

  async check(input: GateInput): Promise<GateReport> {
    const started = performance.now();
    const key = `${treeDigest(input.files)}\0${input.opaVersion ?? ''}`;
    const priority = input.priority ?? 'activation';
    const known = this.entries.get(key);
    if (known && (known.settled || rank(known.priority) <= rank(priority))) {
      try {
        const report = await known.report;
        return { ...report, durationMs: Math.round(performance.now() - started), cached: true };
      } catch {
        // The shared run gave no verdict; this caller tries for itself below.
      }
    }
    const entry: Entry = { report: this.inner.check(input), settled: false, priority };
    this.remember(key, entry);
    try {
      const report = await entry.report;
      if (report.cacheable === false) this.forget(key, entry);
      else entry.settled = true;
      return report;
    } catch (error) {
      // OPA ran and gave no verdict: the binary or its surroundings changed under us, so nothing it said
      // before is trusted either (a tree judged earlier is judged again). A refusal for load (`opa_busy`)
      // says nothing about OPA and keeps what is known.
      if (isRegentError(error) && error.code === 'opa_busy') this.forget(key, entry);
      else this.entries.clear();
      throw error;
    }
  }

  private forget(key: string, entry: Entry): void {
    if (this.entries.get(key) === entry) this.entries.delete(key);
  }

  private remember(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }
}

function rank(priority: WorkPriority): number {
  return WORK_PRIORITIES.indexOf(priority);
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
