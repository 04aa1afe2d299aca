import { h } from './dom.js';
import { highlightRego } from './code-view.js';
import { parsePatch, type PatchFile } from './patch.js';

const STATUS_LABELS: Record<string, string> = { added: 'added', modified: 'modified', deleted: 'deleted', renamed: 'renamed' };

/** A unified patch drawn file by file: old and new line numbers, additions and deletions marked (not by colour alone). */
export function renderPatch(patch: string, headingLevel: 'h2' | 'h3' = 'h2'): HTMLElement {
  const files = parsePatch(patch);
  if (files.length === 0) return h('p', { class: 'empty' }, 'No changes: the two revisions have the same files.');
  return h('div', { class: 'patch' }, files.map((file) => renderFile(file, headingLevel)));
}

function renderFile(file: PatchFile, headingLevel: 'h2' | 'h3'): HTMLElement {
  const rego = file.path.endsWith('.rego');
  const rows = file.lines.map((line) => {
    if (line.kind === 'hunk' || line.kind === 'meta') {
      return h('tr', { class: `line-${line.kind}` }, h('td', { colspan: 3 }, line.text));
    }
    const marker = line.kind === 'add' ? '+' : line.kind === 'del' ? '−' : ' ';
    const label = line.kind === 'add' ? 'added' : line.kind === 'del' ? 'removed' : null;
    return h('tr', { class: `line-${line.kind}` },
      h('td', { class: 'num' }, line.oldLine ?? ''),
      h('td', { class: 'num' }, line.newLine ?? ''),
      h('td', { class: 'text' },
        h('span', { class: 'marker' }, marker, label ? h('span', { class: 'visually-hidden' }, ` ${label}: `) : null),
        rego ? highlightRego(line.text) : line.text));
  });
  return h('section', { class: 'patch-file' },
    h(headingLevel, { class: 'patch-path' }, file.path, ' ', h('span', { class: 'counts' }, h('span', { class: 'plus' }, `+${file.added}`), ' ', h('span', { class: 'minus' }, `−${file.removed}`))),
    file.notes.length > 0 ? h('p', { class: 'hint' }, file.notes.join('; ')) : null,
    rows.length > 0 ? h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': `Changes to ${file.path}` },
      h('table', { class: 'diff-table' },
        h('thead', { class: 'visually-hidden' }, h('tr', null, h('th', { scope: 'col' }, 'old line'), h('th', { scope: 'col' }, 'new line'), h('th', { scope: 'col' }, 'content'))),
        h('tbody', null, rows))) : null);
}

/** The list of changed files with their status. */
export function changedFiles(files: ReadonlyArray<{ path: string; status: string; oldPath?: string }>): HTMLElement {
  if (files.length === 0) return h('p', { class: 'empty' }, 'No files changed.');
  return h('ul', { class: 'files' }, files.map((file) =>
    h('li', null, h('span', { class: `file-status status-${file.status}` }, STATUS_LABELS[file.status] ?? file.status), ' ', h('code', null, file.oldPath ? `${file.oldPath} → ${file.path}` : file.path))));
}
