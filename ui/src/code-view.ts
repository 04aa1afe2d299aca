import { h } from './dom.js';
import { tokenizeRego, type Token } from './rego-tokens.js';

function tokenSpans(tokens: readonly Token[]): Node[] {
  return tokens.map((token) => (token.kind === 'text' ? document.createTextNode(token.text) : h('span', { class: `tok-${token.kind}` }, token.text)));
}

/** Rego source as highlighted text nodes (classes `tok-keyword`, `tok-string`, ...). */
export function highlightRego(source: string): Node[] {
  return tokenSpans(tokenizeRego(source));
}

/** A file's content, numbered, Rego highlighted, in a scrollable, keyboard-focusable region. */
export function codeView(path: string, content: string): HTMLElement {
  const isRego = path.endsWith('.rego');
  const lines = content.replace(/\n$/, '').split('\n');
  const numbers = h('div', { class: 'line-numbers', 'aria-hidden': 'true' }, lines.map((_, index) => h('span', null, String(index + 1))));
  const code = h('code', { class: isRego ? 'language-rego' : '' }, isRego ? highlightRego(content) : content);
  return h('div', { class: 'code-view', tabindex: 0, role: 'region', 'aria-label': `Content of ${path}` }, numbers, h('pre', null, code));
}
