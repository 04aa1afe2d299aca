import type { AgentIdentity } from '../../domain/agents/agent-identity.js';

/**
 * Long polls held per agent identity (`agents.maxHeldPollsPerAgent`), so one credential, leaked or
 * misused, cannot make Regent hold an unbounded number of requests. Anonymous agents (open access) are
 * not counted: behind a load balancer they all share one address. Agents sharing a token share its limit.
 */
export class HeldPollsPerAgent {
  private readonly held = new Map<string, number>();
  private refusedCount = 0;
  private peakCount = 0;

  constructor(private readonly max: number) {}

  /** A release function when `identity` may hold one more request, or undefined when it holds `max` already. */
  acquire(identity: AgentIdentity): (() => void) | undefined {
    if (identity.source === 'anonymous') return () => undefined;
    const name = identity.name;
    const count = this.held.get(name) ?? 0;
    if (count >= this.max) {
      this.refusedCount++;
      return undefined;
    }
    this.held.set(name, count + 1);
    if (count + 1 > this.peakCount) this.peakCount = count + 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.held.get(name) ?? 1) - 1;
      if (now <= 0) this.held.delete(name);
      else this.held.set(name, now);
    };
  }

  /** Identities holding requests now, the most one held at once, and requests refused for the limit. */
  stats(): { max: number; agentsHolding: number; peakPerAgent: number; refused: number } {
    return { max: this.max, agentsHolding: this.held.size, peakPerAgent: this.peakCount, refused: this.refusedCount };
  }
}
