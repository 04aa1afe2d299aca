import { NotFoundError } from '../errors.js';
import type { PolicyStore, Revision } from './policy-store.js';

/**
 * Resolves what users name revisions with: `head` (tip of the tracked branch), `active` (the revision
 * being served, which differs from head while a head fails the gate), a full SHA, or a branch/tag.
 */
export class RevisionResolver {
  private constructor(private readonly store: PolicyStore, private readonly activeRevision: () => Revision | undefined) {}

  static create(store: PolicyStore, activeRevision: () => Revision | undefined): RevisionResolver {
    return new RevisionResolver(store, activeRevision);
  }

  async resolve(ref: string): Promise<Revision> {
    if (ref === 'active') {
      const active = this.activeRevision();
      if (!active) throw new NotFoundError('revision_not_found', "no revision is active yet, so 'active' names nothing", { field: 'revision' });
      return active;
    }
    if (ref === 'head') {
      const head = await this.store.head();
      if (!head) throw new NotFoundError('revision_not_found', 'the store is empty', { field: 'revision' });
      return head;
    }
    return this.store.resolve(ref);
  }

  active(): Revision | undefined {
    return this.activeRevision();
  }
}
