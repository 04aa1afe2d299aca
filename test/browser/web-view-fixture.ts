import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { adminClient, type AdminClient } from '../helpers/admin-client.js';
import { EXAMPLE_POLICIES, startTestRegent, type StartTestRegentOptions } from '../helpers/start-regent.js';

export type Regent = Awaited<ReturnType<typeof startTestRegent>>;

/** Who acts in the browser tests: an admin in the browser, others writing history through the API. */
export interface Cast {
  alice: AdminClient;
  carol: AdminClient;
  bob: AdminClient;
  eddie: AdminClient;
  audrey: AdminClient;
}

export function castOf(regent: Regent): Cast {
  return {
    alice: adminClient(regent, { sub: 'alice', role: 'admin', name: 'Alice Admin', email: 'alice@example.test' }),
    carol: adminClient(regent, { sub: 'carol', role: 'admin', name: 'Carol Chen', email: 'carol@example.test' }),
    bob: adminClient(regent, { sub: 'bob', role: 'admin', name: 'Bob Builder', email: 'bob@example.test' }),
    eddie: adminClient(regent, { sub: 'eddie', role: 'editor', name: 'Eddie Editor', email: 'eddie@example.test' }),
    audrey: adminClient(regent, { sub: 'audrey', role: 'auditor', name: 'Audrey Auditor', email: 'audrey@example.test' }),
  };
}

const SEED_RBAC = JSON.parse(readFileSync(join(EXAMPLE_POLICIES, 'rbac', 'data.json'), 'utf8')) as { users: Record<string, unknown>; assignments: Record<string, unknown> };

/** The example rbac/data.json with heidi added as a user, and, when asked, `frank` (no assignments in the seed) an editor on zeus. */
export function rbacData(options: { frankOnZeus: boolean }): string {
  const data = structuredClone(SEED_RBAC);
  data.users.heidi = { active: true };
  if (options.frankOnZeus) data.assignments.frank = [{ role: 'editor', project: 'zeus' }];
  return `${JSON.stringify(data, null, 2)}\n`;
}

/** What the change request of the tests decides: false on the seed, true once it is merged. */
export const FRANK_EDITS_ZEUS = { subject: 'frank', action: 'edit', resource: { type: 'workflow', project: 'zeus' } };

export const EXTRA_REGO = `# METADATA
# title: Extra switches
package rbac.extra

import rego.v1

# Whether the extra checks run.
default enabled := false

enabled if input.mode == "strict"

limits := {"max": 10, "name": "extra"}
`;

async function put(client: AdminClient, regent: Regent, path: string, content: string, message: string): Promise<string> {
  const head = (await regent.store.head())!;
  const response = await client.put(`/api/policies/${path}`, { content, message }, { 'If-Match': `"${head}"` });
  expect(response.status, await response.clone().text()).toBe(201);
  return ((await response.json()) as { revision: string }).revision;
}

/**
 * A Regent with real history by three authors on top of the seed: Carol adds a module, Bob changes it,
 * Alice adds a user; and a change request by Eddie (frank edits on zeus), validated and open.
 */
export async function regentWithHistory(options: StartTestRegentOptions = {}): Promise<{ regent: Regent; cast: Cast; revisions: string[]; changeRequest: { id: number; tip: string } }> {
  const regent = await startTestRegent(options);
  const cast = castOf(regent);
  const seed = (await regent.store.head())!;
  const added = await put(cast.carol, regent, 'rbac/extra.rego', EXTRA_REGO, 'Add the extra switches module\n\nStrict mode turns the extra checks on.');
  const tuned = await put(cast.bob, regent, 'rbac/extra.rego', EXTRA_REGO.replace('"max": 10', '"max": 25'), 'Raise the extra limit to 25');
  const heidi = await put(cast.alice, regent, 'rbac/data.json', rbacData({ frankOnZeus: false }), 'Add heidi as an active user');
  const proposed = await cast.eddie.post('/api/change-requests', {
    title: 'Frank edits workflows on zeus',
    description: 'Frank joins the zeus team as an editor.',
    changes: [{ op: 'put', path: 'rbac/data.json', content: rbacData({ frankOnZeus: true }) }],
  });
  expect(proposed.status, await proposed.clone().text()).toBe(201);
  const changeRequest = (await proposed.json()) as { id: number; tip: string };
  return { regent, cast, revisions: [seed, added, tuned, heidi], changeRequest };
}
