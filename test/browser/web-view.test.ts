import { describe, expect, test } from 'vitest';
import { openBrowser } from '../helpers/browser.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { capturingLogger } from '../helpers/start-regent.js';
import { BROWSER_TEST_TIMEOUT_MS, heading, PROD, pageFaults, see } from './page-helpers.js';
import { FRANK_EDITS_ZEUS, regentWithHistory } from './web-view-fixture.js';

describe('the web view at /ui, in a real Chromium', () => {
  test('every view loads against a running Regent with real history and a real OPA agent, and the token never leaves the page but in the Authorization header', async () => {
    const log = capturingLogger('debug');
    const { regent, cast, revisions, changeRequest } = await regentWithHistory({ logger: log.logger, config: PROD });
    const [seed, added, tuned, heidi] = revisions as [string, string, string, string];
    expect((await cast.alice.put('/api/environments/prod', { revision: tuned }, { 'If-None-Match': '*' })).status).toBe(200);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true });
    await agent.waitUntilReady();
    await eventually(async () => {
      const fleet = (await (await cast.audrey.get('/api/fleet')).json()) as { bundles: Array<{ name: string; onServedRevision: number }> };
      return fleet.bundles.some((bundle) => bundle.name === 'rbac' && bundle.onServedRevision === 1);
    }, 20_000, () => 'the agent never reported rbac at the served revision');

    const { page, requests, errors, screenshot } = await openBrowser();
    const token = cast.alice.token;
    await page.goto(`${regent.url}/ui/#token=${token}`);

    // History: the timeline, newest first, with authors, files and head/active marks.
    await heading(page, 'History');
    await see(page, 'Add heidi as an active user');
    expect(page.url()).toBe(`${regent.url}/ui/#/history`);
    expect(await page.evaluate('window.sessionStorage.getItem("regent.token")')).toBe(token);
    const entries = page.locator('.timeline-entry');
    expect(await entries.count()).toBe(4);
    expect(await entries.nth(0).innerText()).toMatch(/Add heidi as an active user[\s\S]*head[\s\S]*active[\s\S]*Alice Admin[\s\S]*rbac\/data\.json/);
    expect(await entries.nth(1).innerText()).toContain('Bob Builder');
    expect(await entries.nth(2).innerText()).toContain('Carol Chen');
    expect(await entries.nth(3).innerText()).toContain('Seed policy store from policies-repo');
    await see(page, 'Signed in as');
    await screenshot('history');

    await page.getByLabel('Author').fill('carol');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => entries.count()).toBe(1);
    expect(await entries.nth(0).innerText()).toContain('Add the extra switches module');
    await page.getByLabel('Author').fill('');
    await page.getByLabel('Path').fill('rbac/extra.rego');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => entries.count()).toBe(2);
    expect(await entries.allInnerTexts()).toEqual([expect.stringContaining('Raise the extra limit to 25'), expect.stringContaining('Add the extra switches module')]);

    // Diff between two picked revisions.
    await page.getByLabel(`Select ${tuned.slice(0, 10)} to compare`).check();
    await page.getByLabel(`Select ${added.slice(0, 10)} to compare`).check();
    await page.getByRole('button', { name: 'Compare the two selected' }).click();
    await heading(page, 'Diff');
    await page.locator('.line-add').first().waitFor();
    expect(await page.locator('.line-add').allInnerTexts()).toEqual([expect.stringContaining('"max": 25')]);
    expect(await page.locator('.line-del').allInnerTexts()).toEqual([expect.stringContaining('"max": 10')]);
    await screenshot('diff');

    // A revision with its files, one shown with Rego highlighted.
    await page.goto(`${regent.url}/ui/#/revision/${added}`);
    await heading(page, `Revision ${added.slice(0, 10)}`);
    await see(page, 'Strict mode turns the extra checks on.');
    await page.getByRole('link', { name: 'rbac/extra.rego' }).click();
    await page.locator('.code-view').waitFor();
    expect(await page.locator('.code-view .tok-keyword').allInnerTexts()).toEqual(expect.arrayContaining(['package', 'import', 'default', 'if']));
    expect(await page.locator('.code-view .tok-comment').first().innerText()).toBe('# METADATA');
    expect(await page.locator('.code-view pre').innerText()).toContain('limits := {"max": 10, "name": "extra"}');
    expect(await page.getByRole('button', { name: 'Roll back to this revision…' }).count()).toBe(1);
    await screenshot('revision');

    // The audit log, its chain's health, filtered by subject.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await heading(page, 'Audit log');
    await see(page, 'Hash chain: intact.');
    await page.locator('table.audit tbody tr').first().waitFor();
    expect(await page.locator('table.audit tbody').innerText()).toContain('policy.write');
    await screenshot('audit');
    await page.getByLabel('Subject').fill('bob');
    await page.getByLabel('Action').selectOption('policy.write');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('table.audit tbody tr').count()).toBe(1);
    expect(await page.locator('table.audit tbody tr').innerText()).toMatch(/policy\.write[\s\S]*bob \(admin\)[\s\S]*rbac\/extra\.rego/);

    // The fleet: per-bundle convergence drawn as a chart, and the agent.
    await page.getByRole('link', { name: 'Fleet' }).click();
    await heading(page, 'Fleet');
    await page.locator('#bundle-rbac').waitFor();
    const rbacCard = page.locator('section.bundle-card', { has: page.locator('#bundle-rbac') });
    expect(await rbacCard.innerText()).toContain('1 of 1 on the served revision');
    expect(await rbacCard.locator('svg.chart path.curve').getAttribute('d')).toMatch(/^M [\d.]+ [\d.]+ H [\d.]+ V [\d.]+ H [\d.]+$/);
    expect(await rbacCard.locator('svg.chart .milestone').count()).toBe(3);
    expect(await page.locator('table tbody tr').count()).toBe(1);
    await screenshot('fleet');

    // Change requests: the list, and one with its validation, diff and the admin's buttons.
    await page.getByRole('link', { name: 'Change requests' }).click();
    await heading(page, 'Change requests');
    await page.getByRole('link', { name: 'Frank edits workflows on zeus' }).click();
    await heading(page, `Change request #${changeRequest.id}: Frank edits workflows on zeus`);
    await see(page, 'Rego tests:');
    expect(await page.locator('#validation-heading').innerText()).toContain('valid');
    expect(await page.locator('.line-add').allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('"frank"')]));
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Merge' }).isDisabled()).toBe(true);
    await screenshot('change-request');

    // Environments, with the form to promote or roll back.
    await page.getByRole('link', { name: 'Environments' }).click();
    await heading(page, 'Environments');
    await see(page, 'refs/tags/prod');
    expect(await page.getByLabel('Revision for prod').inputValue()).toBe(tuned);
    await screenshot('environments');

    // The playground: evaluate with an input at any revision.
    await page.getByRole('link', { name: 'Playground' }).click();
    await heading(page, 'Playground');
    await page.getByLabel('Revision').fill(seed);
    await page.getByLabel('Query').fill('data.rbac.allow');
    await page.getByLabel('Input (JSON)').fill(JSON.stringify(FRANK_EDITS_ZEUS));
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await page.locator('.verdict').waitFor();
    expect(await page.locator('.verdict').innerText()).toBe('false');
    await page.getByLabel('Revision').fill(heidi);
    await page.getByLabel('Query').fill('data.rbac.extra.limits');
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await expect.poll(() => page.locator('.verdict').innerText()).toBe('{"max":25,"name":"extra"}');
    await page.getByLabel('Input (JSON)').fill('{not json');
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await see(page, 'The input is not JSON');
    expect(await page.getByLabel('Input (JSON)').getAttribute('aria-invalid')).toBe('true');
    await screenshot('playground');

    // Decisions: shown when this Regent records them, else said to be unavailable.
    const documented = ((await (await fetch(`${regent.url}/api/openapi.json`)).json()) as { paths: Record<string, unknown> }).paths['/api/decisions'] !== undefined;
    await page.getByRole('link', { name: 'Decisions' }).click();
    await heading(page, 'Decisions');
    if (documented) await page.getByRole('region', { name: 'Decisions' }).waitFor();
    else await see(page, 'The decision log is not available on this server.');

    expect(pageFaults(errors)).toEqual([]);
    const signature = token.split('.')[2]!;
    expect(requests.length).toBeGreaterThan(20);
    expect(requests.filter((url) => url.includes(signature) || url.includes('token='))).toEqual([]);
    expect(log.lines.length).toBeGreaterThan(20);
    expect(log.lines.filter((line) => line.includes(signature))).toEqual([]);
  }, BROWSER_TEST_TIMEOUT_MS);
});
