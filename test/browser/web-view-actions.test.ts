import { describe, expect, test } from 'vitest';
import { openBrowser } from '../helpers/browser.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { BROWSER_TEST_TIMEOUT_MS, heading, PROD, pageFaults, see } from './page-helpers.js';
import { FRANK_EDITS_ZEUS, regentWithHistory } from './web-view-fixture.js';

describe('admin actions in the web view, in a real Chromium', () => {
  test('a change request approved and merged, an environment promoted, and rollbacks, all by clicking, reach real OPA agents', async () => {
    const { regent, cast, revisions, changeRequest } = await regentWithHistory({ config: PROD });
    const heidi = revisions[3]!;
    expect((await cast.alice.put('/api/environments/prod', { revision: heidi }, { 'If-None-Match': '*' })).status).toBe(200);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true });
    const prodAgent = await startOpaAgent({ ...agentOptionsFor(regent), resourcePrefix: 'prod/', reportStatus: true });
    await Promise.all([agent.waitUntilReady(), prodAgent.waitUntilReady()]);
    expect(await agent.query('rbac/allow', FRANK_EDITS_ZEUS)).toBe(false);
    expect(await prodAgent.query('rbac/allow', FRANK_EDITS_ZEUS)).toBe(false);
    const decides = (which: typeof agent, expected: boolean) => eventually(async () => (await which.query('rbac/allow', FRANK_EDITS_ZEUS)) === expected, 45_000, () => `the agent never decided ${expected}:\n${which.logs().slice(-2000)}`);

    const { page, errors, screenshot } = await openBrowser();
    // `view=` opens a view other than the history; the token still leaves the address at once.
    await page.goto(`${regent.url}/ui/#token=${cast.alice.token}&view=/change-requests/${changeRequest.id}`);
    await heading(page, `Change request #${changeRequest.id}: Frank edits workflows on zeus`);
    expect(page.url()).toBe(`${regent.url}/ui/#/change-requests/${changeRequest.id}`);
    await page.getByLabel('Approval comment (optional)').fill('Checked with the zeus team');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('button', { name: 'Merge' }).click();
    await page.getByRole('status').getByText(`Merged change request #${changeRequest.id}`).waitFor();
    expect(await page.getByRole('status').innerText()).toMatch(/as [0-9a-f]{10}, activation active\.$/);
    await see(page, 'Checked with the zeus team');
    await screenshot('change-request-merged');
    await decides(agent, true);
    const merged = (await regent.store.head())!;
    expect(merged).not.toBe(heidi);

    // Promote prod to the merged revision, then roll it back, from the environments view.
    await page.getByRole('link', { name: 'Environments' }).click();
    await heading(page, 'Environments');
    await page.getByLabel('Revision for prod').selectOption(merged);
    await page.getByRole('button', { name: 'Move environment' }).click();
    await page.getByRole('status').getByText(`prod now names ${merged.slice(0, 10)}, activation active.`).waitFor();
    await decides(prodAgent, true);
    await page.getByLabel('Revision for prod').selectOption(heidi);
    await page.getByRole('button', { name: 'Move environment' }).click();
    await page.getByRole('status').getByText(`prod now names ${heidi.slice(0, 10)}, activation active.`).waitFor();
    await decides(prodAgent, false);
    await screenshot('environments-rolled-back');

    // Roll the tracked branch back to the revision before the merge, from that revision's page.
    await page.goto(`${regent.url}/ui/#/revision/${heidi}`);
    await heading(page, `Revision ${heidi.slice(0, 10)}`);
    await page.getByRole('button', { name: 'Roll back to this revision…' }).click();
    await page.getByRole('button', { name: 'Confirm rollback' }).click();
    await see(page, /^Rolled back: new revision/);
    await decides(agent, false);
    const rollback = (await regent.store.head())!;
    const version = (await (await cast.alice.get(`/api/versions/${rollback}`)).json()) as { author: { name: string }; trailers: Array<{ key: string; value: string }>; tree: string };
    expect(version.author.name).toBe('Alice Admin');
    expect(version.trailers).toEqual(expect.arrayContaining([{ key: 'Regent-Rollback-Of', value: heidi }]));
    await screenshot('rolled-back');
    expect(pageFaults(errors)).toEqual([]);
  }, BROWSER_TEST_TIMEOUT_MS);
});
