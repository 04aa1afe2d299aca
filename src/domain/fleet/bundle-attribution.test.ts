import { describe, expect, test } from 'vitest';
import { countBundleAs, type ServedSets } from './bundle-attribution.js';

const MAIN = 'm'.repeat(40);
const PROD = 'p'.repeat(40);
const OLD = 'o'.repeat(40);

function sets(served: Record<string, string>): ServedSets {
  return { environments: ['prod', 'staging'], served: (name) => (served[name] ? { revision: served[name], publishedAt: new Date(0) } : undefined) };
}

describe('countBundleAs: which served bundle an agent\'s bundle counts against', () => {
  const split = sets({ rbac: MAIN, 'prod/rbac': PROD });
  test.each([
    ['a name that is already an environment bundle', { name: 'prod/rbac', activeRevision: MAIN }, undefined, undefined, undefined],
    ['a partition naming an environment, whatever the revision', { name: 'rbac', activeRevision: MAIN }, 'prod', undefined, 'prod/rbac'],
    ['a partition naming no environment: by revision', { name: 'rbac', activeRevision: PROD }, 'eu-west', undefined, 'prod/rbac'],
    ['the revision only the environment serves', { name: 'rbac', activeRevision: PROD }, undefined, undefined, 'prod/rbac'],
    ['the revision only the branch serves', { name: 'rbac', activeRevision: MAIN }, undefined, 'prod/rbac', undefined],
    ['a revision nobody serves (behind): where it was counted before', { name: 'rbac', activeRevision: OLD }, undefined, 'prod/rbac', 'prod/rbac'],
    ['a revision nobody serves, never seen: the branch', { name: 'rbac', activeRevision: OLD }, undefined, undefined, undefined],
    ['no revision yet: the branch', { name: 'rbac' }, undefined, undefined, undefined],
    ['a bundle nobody serves', { name: 'other', activeRevision: MAIN }, undefined, undefined, undefined],
  ])('%s', (_name, bundle, partition, previous, expected) => {
    expect(countBundleAs(split, bundle, partition, previous)).toBe(expected);
  });

  test('when branch and environment serve the same revision, an agent stays where it was counted (else the branch)', () => {
    const same = sets({ rbac: MAIN, 'prod/rbac': MAIN });
    expect(countBundleAs(same, { name: 'rbac', activeRevision: MAIN }, undefined, 'prod/rbac')).toBe('prod/rbac');
    expect(countBundleAs(same, { name: 'rbac', activeRevision: MAIN }, undefined, undefined)).toBeUndefined();
  });

  test('a bundle only an environment serves counts against it', () => {
    expect(countBundleAs(sets({ 'prod/rbac': PROD }), { name: 'rbac', activeRevision: OLD }, undefined, undefined)).toBe('prod/rbac');
  });
});
