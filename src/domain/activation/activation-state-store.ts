import type { Revision } from '../store/policy-store.js';

/** What must survive a restart so a failing head never makes Regent serve nothing. */
export interface ActivationState {
  /** The newest revision that passed the gate and was published. */
  lastGoodRevision?: Revision;
}

export interface ActivationStateStore {
  load(): Promise<ActivationState>;
  /** Durable before it resolves (written, flushed, renamed into place). */
  save(state: ActivationState): Promise<void>;
}
