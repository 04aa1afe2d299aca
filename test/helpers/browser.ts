import { accessSync, constants, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { onTestFinished } from 'vitest';
import { tempDirForTest } from './temp-dir.js';

/** Where the browser tests put their screenshots (git-ignored), for people to look at. */
export const SCREENSHOTS_DIR = resolve(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

/**
 * Chromium's flags for this machine: headless, no sandbox (root in a container), and nothing that
 * reaches out to Google's services (background networking, component updates, sync, QUIC), whose
 * connections the closed network refuses.
 */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** `REGENT_CHROMIUM`, else Debian's `/usr/bin/chromium`; a missing browser fails the test, saying what to install. */
export function chromiumPath(): string {
  const path = process.env.REGENT_CHROMIUM ?? '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${path}: the web view's browser tests need one. Run 'node scripts/ensure-chromium.mjs' (npm test's pretest does; as root it installs Debian's chromium package), or set REGENT_CHROMIUM to a Chromium executable.`);
  }
  return path;
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Every URL the browser requested, in order (playwright's `page.on('request')`). */
  requests: string[];
  /** Console errors and uncaught page errors: a working view has none. */
  errors: string[];
  /** Saves a full-page screenshot as `test-results/screenshots/<name>.png`; returns its path. */
  screenshot(name: string): Promise<string>;
}

/** A real headless Chromium with a fresh profile (`--user-data-dir` in a temp folder), closed when the test finishes. */
export async function openBrowser(options: { width?: number; height?: number } = {}): Promise<BrowserSession> {
  const userDataDir = tempDirForTest('regent-chromium-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    timeout: 60_000,
  });
  onTestFinished(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(45_000);
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  return {
    context, page, requests, errors,
    async screenshot(name) {
      const path = join(SCREENSHOTS_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
  };
}
