import type { PolicyStore } from '../store/policy-store.js';

/**
 * What the activation pipeline needs of a store: the revision it should serve (`head`), word when that
 * may have changed, and the files of a revision. The tracked branch (`PolicyStore`) is one source; an
 * environment's tag or branch (`GitRefFollower`) is another, over the same repository.
 */
export type RevisionSource = Pick<PolicyStore, 'head' | 'onHeadChange' | 'listTree' | 'readBlobs'>;
