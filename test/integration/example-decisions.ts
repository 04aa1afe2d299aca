/**
 * Expected decisions of the example policy repository (`policies-repo/`), for integration tests
 * that query OPA's data API against the bundles Regent builds from it. Every row was checked
 * against the pinned OPA. Seed data: rbac/data.json (users, assignments, role_permissions) and
 * datasets/data.json (catalog).
 */
export interface ExampleDecision {
  /** States the behaviour, e.g. 'editor cannot delete a workflow'. */
  name: string;
  /** OPA data API path, e.g. 'rbac/allow' or 'datasets/allow'. */
  path: string;
  input: Record<string, unknown>;
  expected: boolean;
}

function rbac(subject: string, action: string, type: string, project: string): Record<string, unknown> {
  return { subject, action, resource: { type, project } };
}

function dataset(id: string, action: string, token?: Record<string, unknown>): Record<string, unknown> {
  return token === undefined ? { dataset: id, action } : { dataset: id, action, token };
}

export const exampleDecisions: readonly ExampleDecision[] = [
  // RBAC: alice is an active superadmin.
  { name: 'superadmin can delete a workflow in any project', path: 'rbac/allow', input: rbac('alice', 'delete', 'workflow', 'zeus'), expected: true },
  { name: 'superadmin can run an agent in a project without assignments', path: 'rbac/allow', input: rbac('alice', 'run', 'agent', 'hermes'), expected: true },
  // bob: admin on apollo.
  { name: 'admin can delete a workflow in its project', path: 'rbac/allow', input: rbac('bob', 'delete', 'workflow', 'apollo'), expected: true },
  { name: 'admin can create an agent in its project', path: 'rbac/allow', input: rbac('bob', 'create', 'agent', 'apollo'), expected: true },
  { name: 'admin role on another project is denied', path: 'rbac/allow', input: rbac('bob', 'view', 'workflow', 'zeus'), expected: false },
  // carol: editor on apollo, viewer on zeus.
  { name: 'editor can create a workflow', path: 'rbac/allow', input: rbac('carol', 'create', 'workflow', 'apollo'), expected: true },
  { name: 'editor can edit a workflow', path: 'rbac/allow', input: rbac('carol', 'edit', 'workflow', 'apollo'), expected: true },
  { name: 'editor cannot delete a workflow', path: 'rbac/allow', input: rbac('carol', 'delete', 'workflow', 'apollo'), expected: false },
  { name: 'editor can run an agent', path: 'rbac/allow', input: rbac('carol', 'run', 'agent', 'apollo'), expected: true },
  { name: 'editor on apollo is only a viewer on zeus', path: 'rbac/allow', input: rbac('carol', 'edit', 'workflow', 'zeus'), expected: false },
  // dave: viewer on apollo.
  { name: 'viewer can view a workflow', path: 'rbac/allow', input: rbac('dave', 'view', 'workflow', 'apollo'), expected: true },
  { name: 'viewer cannot create a workflow', path: 'rbac/allow', input: rbac('dave', 'create', 'workflow', 'apollo'), expected: false },
  { name: 'viewer cannot run an agent', path: 'rbac/allow', input: rbac('dave', 'run', 'agent', 'apollo'), expected: false },
  // erin: inactive admin on apollo; frank: active, no assignments; mallory: unknown.
  { name: 'inactive user is denied despite an admin role', path: 'rbac/allow', input: rbac('erin', 'view', 'workflow', 'apollo'), expected: false },
  { name: 'active user without assignments is denied', path: 'rbac/allow', input: rbac('frank', 'view', 'workflow', 'apollo'), expected: false },
  { name: 'unknown user is denied', path: 'rbac/allow', input: rbac('mallory', 'view', 'workflow', 'apollo'), expected: false },

  // Datasets: weather is PUBLIC (noaa), hr-handbook INTERNAL (acme), sales-eu RESTRICTED (acme).
  { name: 'public dataset is readable with no token claims', path: 'datasets/allow', input: dataset('weather', 'read'), expected: true },
  { name: 'internal dataset is readable by its own org', path: 'datasets/allow', input: dataset('hr-handbook', 'read', { sub: 'pat', org: 'acme', groups: ['engineering'] }), expected: true },
  { name: 'internal dataset is denied to another org', path: 'datasets/allow', input: dataset('hr-handbook', 'read', { sub: 'gil', org: 'globex', groups: ['engineering'] }), expected: false },
  { name: 'restricted dataset is readable with an allowed group', path: 'datasets/allow', input: dataset('sales-eu', 'read', { sub: 'sam', org: 'acme', groups: ['sales-eu'] }), expected: true },
  { name: 'restricted dataset is readable with an approved purpose', path: 'datasets/allow', input: dataset('sales-eu', 'read', { sub: 'ada', org: 'acme', groups: ['finance'], purpose: 'audit' }), expected: true },
  { name: 'restricted dataset is denied to another org even with group and purpose', path: 'datasets/allow', input: dataset('sales-eu', 'read', { sub: 'gil', org: 'globex', groups: ['sales-eu'], purpose: 'audit' }), expected: false },
  { name: 'restricted dataset is denied without an allowed group or approved purpose', path: 'datasets/allow', input: dataset('sales-eu', 'read', { sub: 'pat', org: 'acme', groups: ['engineering'], purpose: 'analytics' }), expected: false },
  { name: 'unknown dataset is denied', path: 'datasets/allow', input: dataset('does-not-exist', 'read', { sub: 'sam', org: 'acme', groups: ['sales-eu'], purpose: 'audit' }), expected: false },
  { name: 'data steward of the owning org can write an internal dataset', path: 'datasets/allow', input: dataset('hr-handbook', 'write', { sub: 'stu', org: 'acme', groups: ['data-steward'] }), expected: true },
  { name: 'reader without the data-steward group cannot write', path: 'datasets/allow', input: dataset('sales-eu', 'write', { sub: 'sam', org: 'acme', groups: ['sales-eu'] }), expected: false },
];
