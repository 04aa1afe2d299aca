import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { adminClient } from '../helpers/admin-client.js';
import { openBrowser } from '../helpers/browser.js';
import { startTestRegent } from '../helpers/start-regent.js';
import { BROWSER_TEST_TIMEOUT_MS, focused, heading, see, tabTo, waitForFocusedHeading } from './page-helpers.js';
import { EXTRA_REGO, regentWithHistory } from './web-view-fixture.js';

describe('using the web view: keyboard, signing in, the audit chain, in a real Chromium', () => {
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
  }, BROWSER_TEST_TIMEOUT_MS);

  test('sign in by pasting a token: a malformed or forged one is refused with the reason, a role sees what it may, sign out forgets the token', async () => {
    const { regent, cast } = await regentWithHistory();
    const { page, requests, screenshot } = await openBrowser();
    await page.goto(`${regent.url}/ui/#/audit`);
    await heading(page, 'Sign in');
    expect(page.url()).toBe(`${regent.url}/ui/#/signin?next=%2Faudit`);
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
    // Back where the user was going; an auditor reads the audit log, but cannot roll back (no button)
    // nor evaluate (the API says why).
    await heading(page, 'Audit log');
    await see(page, 'Hash chain: intact.');
    expect(await page.locator('#who').innerText()).toContain('Audrey Auditor (auditor)');
    expect(await field.count()).toBe(0);
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
  }, BROWSER_TEST_TIMEOUT_MS);

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
    expect(await page.locator('tr.untrusted td.num').allInnerTexts()).toEqual(['5 not trusted', '4 not trusted', '3 not trusted', '2 not trusted']);
    await screenshot('audit-broken');
  }, BROWSER_TEST_TIMEOUT_MS);
});
