import type { Page } from 'playwright-core';
import { expect } from 'vitest';

/** Environments of the browser tests' Regent: \`prod\` follows the tag \`prod\`. */
export const PROD = { environments: [{ name: 'prod', ref: 'tags/prod' }] };

/** Waits for an element with this text to be visible. */
export async function see(page: Page, text: string | RegExp): Promise<void> {
  await page.getByText(text).first().waitFor({ state: 'visible' });
}

export async function heading(page: Page, name: string | RegExp): Promise<void> {
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** Problems the page itself had: uncaught errors, and console errors other than HTTP answers the view expected. */
export function pageFaults(errors: string[]): string[] {
  return errors.filter((message) => !message.startsWith('Failed to load resource'));
}

export interface Focused {
  tag: string;
  id: string;
  name: string | null;
  text: string;
  /** Whether the focused element shows a focus outline. */
  outline: boolean;
}

/** The focused element, as a keyboard user would find it. */
export async function focused(page: Page): Promise<Focused> {
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
export async function tabTo(page: Page, name: string, options: { backwards?: boolean; max?: number } = {}): Promise<void> {
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
export async function waitForFocusedHeading(page: Page): Promise<string> {
  await expect.poll(async () => (await focused(page)).tag).toBe('H1');
  await page.locator('main .loading').waitFor({ state: 'detached' });
  return (await focused(page)).text;
}

/** A browser test starts Regent, OPA agents and Chromium, and clicks through several views: minutes on a loaded 2-core machine. */
export const BROWSER_TEST_TIMEOUT_MS = 180_000;
