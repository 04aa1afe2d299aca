import { announce } from '../announce.js';
import { changedFiles } from '../diff-render.js';
import { badge, field, h, shortSha, time } from '../dom.js';
import { trailerPairs, type Version, type VersionPage } from '../versions.js';
import { heading, loading, problemBox, type ViewContext } from '../view.js';

const PAGE = 50;

/** The tracked branch's history as a timeline, filtered by path (server) and author (client), two revisions picked to compare. */
export async function historyView(context: ViewContext): Promise<void> {
  const { api, main, query } = context;
  const path = query.get('path') ?? '';
  const author = query.get('author') ?? '';
  const pathInput = h('input', { type: 'text', name: 'path', value: path, placeholder: 'rbac/ or rbac/data.json', spellcheck: 'false' });
  const authorInput = h('input', { type: 'text', name: 'author', value: author, placeholder: 'name or e-mail' });
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the history' },
    field('Path', pathInput), field('Author', authorInput),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter'), (path || author) ? h('a', { href: '#/history', class: 'button secondary' }, 'Clear') : null));
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (pathInput.value.trim()) params.set('path', pathInput.value.trim());
    if (authorInput.value.trim()) params.set('author', authorInput.value.trim());
    const search = params.toString();
    context.navigate(`/history${search ? `?${search}` : ''}`, { replace: true });
  });

  const selected: string[] = [];
  const compare = h('button', { type: 'button', disabled: true }, 'Compare the two selected');
  compare.addEventListener('click', () => {
    if (selected.length === 2) context.navigate(`/diff?from=${selected[1]}&to=${selected[0]}`);
  });
  const list = h('ol', { class: 'timeline', 'aria-label': 'Revisions, newest first' });
  const more = h('div', { class: 'more' });
  const summary = h('p', { class: 'hint' });
  main.append(heading('History'), filters, h('div', { class: 'toolbar' }, summary, compare), list, more);
  more.append(loading('Loading the history…'));

  const needle = author.toLowerCase();
  let shown = 0;
  let loaded = 0;
  const load = async (cursor: string | undefined): Promise<void> => {
    const page = await api.get<VersionPage>('/api/versions', { path: path || undefined, limit: PAGE, cursor });
    if (!context.current()) return;
    loaded += page.versions.length;
    for (const version of page.versions) {
      if (needle && !`${version.author.name} ${version.author.email}`.toLowerCase().includes(needle)) continue;
      list.append(entry(version, selected, compare));
      shown++;
    }
    summary.textContent = `${shown} of ${loaded} loaded revisions shown${needle ? ` (author contains “${author}”)` : ''}${path ? ` (touching ${path})` : ''}. Tick two to compare them.`;
    more.replaceChildren();
    if (page.nextCursor) {
      const button = h('button', { type: 'button', class: 'secondary' }, 'Load older revisions');
      button.addEventListener('click', () => {
        button.disabled = true;
        void load(page.nextCursor!).then(() => announce(`${shown} revisions shown.`), (error: unknown) => more.replaceChildren(problemBox(error)));
      });
      more.append(button);
    } else if (shown === 0) {
      more.append(h('p', { class: 'empty' }, 'No revision matches.'));
    }
  };
  try {
    await load(undefined);
  } catch (error) {
    more.replaceChildren(problemBox(error));
  }
}

function entry(version: Version, selected: string[], compare: HTMLButtonElement): HTMLLIElement {
  const checkbox = h('input', { type: 'checkbox', class: 'pick', 'aria-label': `Select ${shortSha(version.revision)} to compare` });
  checkbox.addEventListener('change', () => {
    const at = selected.indexOf(version.revision);
    if (checkbox.checked && at < 0) selected.push(version.revision);
    if (!checkbox.checked && at >= 0) selected.splice(at, 1);
    compare.disabled = selected.length !== 2;
  });
  const trailers = trailerPairs(version.trailers);
  return h('li', { class: `timeline-entry${version.head ? ' is-head' : ''}${version.active ? ' is-active' : ''}` },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('article', { class: 'card' },
      h('div', { class: 'entry-top' },
        h('h2', { class: 'subject' }, h('a', { href: `#/revision/${version.revision}` }, version.subject || '(no message)')),
        h('span', { class: 'marks' }, version.head ? badge('head', 'head') : null, version.active ? badge('active', 'active') : null)),
      h('p', { class: 'meta' },
        h('span', { class: 'author' }, version.author.name), ' ', h('span', { class: 'email' }, `<${version.author.email}>`), ' · ',
        time(version.author.date), ' · ', h('code', { class: 'sha' }, shortSha(version.revision)),
        version.parents.length > 1 ? ' · merge' : null),
      trailers.length > 0 ? h('p', { class: 'trailers' }, trailers.map(([key, value]) => h('span', { class: 'trailer' }, `${key}: ${value}`))) : null,
      h('div', { class: 'entry-files' }, changedFiles(version.files)),
      h('label', { class: 'pick-label' }, checkbox, ' compare')));
}
