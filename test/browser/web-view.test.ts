import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, onTestFinished, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { openBrowser } from '../helpers/browser.js';
import { agentOptionsFor, eventually, startOpaAgent } from '../helpers/opa-agent.js';
import { capturingLogger, startTestRegent } from '../helpers/start-regent.js';
import { EXTRA_REGO, FRANK_EDITS_ZEUS, regentWithHistory } from './web-view-fixture.js';

const PROD = { environments: [{ name: 'prod', ref: 'tags/prod' }] };

/** Waits for an element with this text to be visible. */
async function see(page: Page, text: string | RegExp): Promise<void> {
  await page.getByText(text).first().waitFor({ state: 'visible' });
}

async function heading(page: Page, name: string | RegExp): Promise<void> {
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** Problems the page itself had: uncaught errors, and console errors other than HTTP answers the view expected. */
function pageFaults(errors: string[]): string[] {
  return errors.filter((message) => !message.startsWith('Failed to load resource'));
}

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
  });

  test('a change request approved and merged, an environment promoted, and rollbacks, all by clicking, reach real OPA agents', async () => {
    const { regent, cast, revisions, changeRequest } = await regentWithHistory({ config: PROD });
    const heidi = revisions[3]!;
    expect((await cast.alice.put('/api/environments/prod', { revision: heidi }, { 'If-None-Match': '*' })).status).toBe(200);
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), reportStatus: true });
    const prodAgent = await startOpaAgent({ ...agentOptionsFor(regent), resourcePrefix: 'prod/', reportStatus: true });
    await Promise.all([agent.waitUntilReady(), prodAgent.waitUntilReady()]);
    expect(await agent.query('rbac/allow', FRANK_EDITS_ZEUS)).toBe(false);
    expect(await prodAgent.query('rbac/allow', FRANK_EDITS_ZEUS)).toBe(false);
    const decides = (which: typeof agent, expected: boolean) => eventually(async () => (await which.query('rbac/allow', FRANK_EDITS_ZEUS)) === expected, 20_000, () => `the agent never decided ${expected}:\n${which.logs().slice(-2000)}`);

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
  });

  test('keyboard only: skip link, menu, links and buttons reach every main view, focus moves to each view\'s heading and is visible', async () => {
    const { regent, cast, changeRequest } = await regentWithHistory();
    const { page, screenshot } = await openBrowser();
    await page.goto(`${regent.url}/ui/#token=${cast.alice.token}`);
    await see(page, 'Add heidi as an active user');

    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatchObject({ text: 'Skip to content', outline: true });
    await page.keyboard.press('Enter');
    expect(await focused(page)).toMatchObject({ id: 'main' });
    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatchObject({ tag: 'INPUT', name: 'path' });

    await tabTo(page, 'Add the extra switches module');
    await page.keyboard.press('Enter');
    await heading(page, /^Revision [0-9a-f]{10}$/);
    expect(await focused(page)).toMatchObject({ tag: 'H1', text: expect.stringMatching(/^Revision /) });
    await tabTo(page, 'rbac/extra.rego');
    await page.keyboard.press('Enter');
    await page.locator('.code-view').waitFor();

    await tabTo(page, 'Audit log', { backwards: true });
    expect(await focused(page)).toMatchObject({ outline: true });
    await screenshot('keyboard-focus');
    await page.keyboard.press('Enter');
    await heading(page, 'Audit log');
    expect(await focused(page)).toMatchObject({ tag: 'H1', text: 'Audit log' });
    expect(await page.getByRole('link', { name: 'Audit log' }).getAttribute('aria-current')).toBe('page');
    await see(page, 'Hash chain: intact.');

    await tabTo(page, 'Fleet', { backwards: true });
    await page.keyboard.press('Enter');
    expect(await waitForFocusedHeading(page)).toBe('Fleet');

    await tabTo(page, 'Change requests', { backwards: true });
    await page.keyboard.press('Enter');
    expect(await waitForFocusedHeading(page)).toBe('Change requests');
    await tabTo(page, 'Frank edits workflows on zeus');
    await page.keyboard.press('Enter');
    expect(await waitForFocusedHeading(page)).toBe(`Change request #${changeRequest.id}: Frank edits workflows on zeus`);
    await tabTo(page, 'Approve');

    await tabTo(page, 'Environments', { backwards: true });
    await page.keyboard.press('Enter');
    expect(await waitForFocusedHeading(page)).toBe('Environments');

    await tabTo(page, 'Playground', { backwards: true });
    await page.keyboard.press('Enter');
    expect(await waitForFocusedHeading(page)).toBe('Playground');
    await tabTo(page, 'Evaluate');
    await page.keyboard.press('Enter');
    await page.locator('.verdict').waitFor();
    expect(await page.locator('.verdict').innerText()).toBe('true');

    await tabTo(page, 'History', { backwards: true });
    await page.keyboard.press('Enter');
    expect(await waitForFocusedHeading(page)).toBe('History');
  });

  test('sign in by pasting a token: a malformed or forged one is refused with the reason, a role sees what it may, sign out forgets the token', async () => {
    const { regent, cast } = await regentWithHistory();
    const { page, requests, screenshot } = await openBrowser();
    await page.goto(`${regent.url}/ui/`);
    await heading(page, 'Sign in');
    const field = page.getByLabel('Admin API token');
    expect(await field.getAttribute('type')).toBe('password');
    await field.fill('not a token');
    await field.press('Enter');
    await page.getByRole('alert').getByText('That is not a token').waitFor();

    const [header, payload] = cast.audrey.token.split('.');
    await field.fill(`${header}.${payload}.forged-signature`);
    await field.press('Enter');
    await page.getByRole('alert').getByText('[token_invalid]').waitFor();
    expect(await page.evaluate('window.sessionStorage.length')).toBe(0);
    await screenshot('sign-in-refused');

    await field.fill(cast.audrey.token);
    await field.press('Enter');
    await heading(page, 'History');
    await see(page, 'Signed in as');
    expect(await page.locator('#who').innerText()).toContain('Audrey Auditor (auditor)');
    expect(await field.count()).toBe(0);

    // An auditor reads the audit log, but cannot roll back (no button) nor evaluate (the API says why).
    await page.getByRole('link', { name: 'Audit log' }).click();
    await see(page, 'Hash chain: intact.');
    await page.getByRole('link', { name: 'History' }).click();
    await page.getByRole('link', { name: 'Add the extra switches module' }).click();
    await see(page, 'Strict mode turns the extra checks on.');
    expect(await page.getByRole('button', { name: /Roll back/ }).count()).toBe(0);
    await page.getByRole('link', { name: 'Playground' }).click();
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await page.getByRole('alert').getByText("Your token's role cannot do this").waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading(page, 'Sign in');
    expect(await page.evaluate('window.sessionStorage.length')).toBe(0);
    const signature = cast.audrey.token.split('.')[2]!;
    expect(requests.filter((url) => url.includes(signature))).toEqual([]);
  });

  test('a broken audit chain is shown to the auditor, with the line where it breaks', async () => {
    const first = await startTestRegent({ keepRunning: true });
    onTestFinished(() => first.close());
    const alice = adminClient(first, { sub: 'alice', role: 'admin', name: 'Alice Admin', email: 'alice@example.test' });
    for (const n of [1, 2]) {
      const head = (await first.store.head())!;
      const response = await alice.put('/api/policies/rbac/extra.rego', { content: EXTRA_REGO.replace('10', String(n)), message: `Write ${n}` }, { 'If-Match': `"${head}"` });
      expect(response.status).toBe(201);
    }
    await first.close();
    const auditFile = join(first.dataDir, 'audit', 'audit.jsonl');
    const lines = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean);
    writeFileSync(auditFile, `${lines.map((line, i) => (i === 1 ? line.replace('"outcome":"success"', '"outcome":"failed"') : line)).join('\n')}\n`);

    // Development mode opens a broken log read-only and says where it breaks.
    const regent = await startTestRegent({ dataDir: first.dataDir });
    const audrey = adminClient(regent, { sub: 'audrey', role: 'auditor', name: 'Audrey Auditor', email: 'audrey@example.test' });
    const { page, screenshot } = await openBrowser();
    await page.goto(`${regent.url}/ui/#token=${audrey.token}&view=/audit`);
    await heading(page, 'Audit log');
    await page.getByRole('alert').getByText('Hash chain: broken.').waitFor();
    expect(await page.locator('.health.broken').innerText()).toContain('audit/audit.jsonl line 3 (seq 3): prev is not the SHA-256 of the line before');
    await screenshot('audit-broken');
  });
});

interface Focused {
  tag: string;
  id: string;
  name: string | null;
  text: string;
  /** Whether the focused element shows a focus outline. */
  outline: boolean;
}

/** The focused element, as a keyboard user would find it. */
async function focused(page: Page): Promise<Focused> {
  return page.evaluate(`(() => {
    const element = document.activeElement;
    if (!element) return { tag: '', id: '', name: null, text: '', outline: false };
    const style = getComputedStyle(element);
    return {
      tag: element.tagName, id: element.id, name: element.getAttribute('name'),
      text: (element.getAttribute('aria-label') || element.textContent || '').trim(),
      outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    };
  })()`);
}

/** Presses Tab (or Shift+Tab) until the focused element is named `name`; fails after `max` presses. */
async function tabTo(page: Page, name: string, options: { backwards?: boolean; max?: number } = {}): Promise<void> {
  const seen: string[] = [];
  for (let presses = 0; presses < (options.max ?? 80); presses++) {
    await page.keyboard.press(options.backwards ? 'Shift+Tab' : 'Tab');
    const now = await focused(page);
    if (now.text === name) return;
    seen.push(now.text.slice(0, 40));
  }
  throw new Error(`Tab never reached '${name}'; focus went through: ${seen.join(' | ')}`);
}

/** The text of the focused `<h1>` once a view has moved the focus there. */
async function waitForFocusedHeading(page: Page): Promise<string> {
  await expect.poll(async () => (await focused(page)).tag).toBe('H1');
  await page.locator('main .loading').waitFor({ state: 'detached' });
  return (await focused(page)).text;
}
