import { createHash, timingSafeEqual } from 'node:crypto';
import type { AgentIdentity } from './agent-identity.js';
import type { AgentTokenEntry } from './agent-token-file.js';

interface StoredToken {
  identity: AgentIdentity;
  digest: Buffer;
}

/**
 * The agent tokens of the tokens file, by the SHA-256 of the token: Regent never holds a token itself.
 * A presented token is hashed once; the lookup is by that digest (the attacker chooses the token, not
 * its digest, so the map is no timing oracle on anything secret) and the found digest is compared again
 * in constant time.
 */
export class AgentTokenTable {
  private readonly byDigest = new Map<string, StoredToken>();

  private constructor(entries: readonly AgentTokenEntry[]) {
    for (const entry of entries) {
      const identity: AgentIdentity = Object.freeze({ name: entry.name, source: 'token', bundles: Object.freeze([...entry.bundles]), environments: Object.freeze([...entry.environments]) });
      this.byDigest.set(entry.sha256, { identity, digest: Buffer.from(entry.sha256, 'hex') });
    }
  }

  static from(entries: readonly AgentTokenEntry[]): AgentTokenTable {
    return new AgentTokenTable(entries);
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** The identity `token` belongs to, or undefined. */
  identify(token: string): AgentIdentity | undefined {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    const found = this.byDigest.get(digest.toString('hex'));
    return found && timingSafeEqual(found.digest, digest) ? found.identity : undefined;
  }
}
