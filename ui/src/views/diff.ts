import { changedFiles, renderPatch } from '../diff-render.js';
import { field, h, shortSha } from '../dom.js';
import type { VersionPage } from '../versions.js';
import { heading, loading, problemBox, type ViewContext } from '../view.js';

interface DiffAnswer {
  from: string;
  to: string;
  files: Array<{ path: string; status: string; oldPath?: string }>;
  patch: string;
}

/** The difference between any two revisions (SHAs, `head`, `active`, branches or tags), file by file. */
export async function diffView(context: ViewContext): Promise<void> {
  const { api, main, query } = context;
  const body = h('div');
  const fromInput = h('input', { type: 'text', name: 'from', list: 'revisions-list', value: query.get('from') ?? '', required: true, spellcheck: 'false', class: 'sha-input' });
  const toInput = h('input', { type: 'text', name: 'to', list: 'revisions-list', value: query.get('to') ?? 'head', required: true, spellcheck: 'false', class: 'sha-input' });
  const options = h('datalist', { id: 'revisions-list' });
  const form = h('form', { class: 'filters', 'aria-label': 'Revisions to compare' },
    field('From', fromInput, 'older revision: a SHA, head, active, a branch or tag'), field('To', toInput), options,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Compare')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    context.navigate(`/diff?from=${encodeURIComponent(fromInput.value.trim())}&to=${encodeURIComponent(toInput.value.trim())}`, { replace: true });
  });
  main.append(heading('Diff'), form, body);

  let recent: VersionPage | undefined;
  try {
    recent = await api.get<VersionPage>('/api/versions', { limit: 50 });
    options.append(...recent.versions.map((version) => h('option', { value: version.revision }, `${shortSha(version.revision)} ${version.subject}`)));
  } catch {
    // The datalist is a convenience; the comparison below says what went wrong if anything does.
  }
  if (!context.current()) return;
  let from = query.get('from');
  let to = query.get('to') ?? 'head';
  if (!from) {
    // Nothing asked yet: the last change (head's parent → head).
    const [newest, previous] = recent?.versions ?? [];
    if (!newest || !previous) {
      body.append(h('p', { class: 'empty' }, 'Pick two revisions to compare.'));
      return;
    }
    from = previous.revision;
    to = newest.revision;
    fromInput.value = from;
    toInput.value = to;
  }
  body.append(loading('Comparing…'));
  try {
    const diff = await api.get<DiffAnswer>('/api/diff', { from, to, format: 'json' });
    if (!context.current()) return;
    body.replaceChildren(
      h('p', { class: 'hint' }, 'From ', h('a', { href: `#/revision/${diff.from}` }, h('code', null, shortSha(diff.from))), ' to ', h('a', { href: `#/revision/${diff.to}` }, h('code', null, shortSha(diff.to))), `: ${diff.files.length} file${diff.files.length === 1 ? '' : 's'} changed.`),
      changedFiles(diff.files),
      renderPatch(diff.patch));
  } catch (error) {
    body.replaceChildren(problemBox(error));
  }
}
