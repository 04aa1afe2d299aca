import { announce } from '../announce.js';
import { encodePath } from '../api.js';
import { codeView } from '../code-view.js';
import { changedFiles } from '../diff-render.js';
import { badge, field, h, shortSha, time } from '../dom.js';
import { hasRole } from '../session.js';
import { trailerPairs, type Version } from '../versions.js';
import { heading, loading, problemBox, type ViewContext } from '../view.js';

interface PolicyListing {
  revision: string;
  files: Array<{ path: string; kind: string; size: number; package?: string; title?: string }>;
}

interface ChangeResult {
  revision: string;
  activation: { state: string; failure?: { code?: string; detail?: string } };
}

/** One revision: its commit, the files it has (one shown, Rego highlighted), a diff link, and rollback for admins. */
export async function revisionView(context: ViewContext): Promise<void> {
  const { api, main, params, query } = context;
  const wanted = params.join('/') || 'head';
  const title = heading(`Revision ${shortSha(wanted)}`);
  const body = h('div', null, loading());
  main.append(title, body);
  let version: Version;
  try {
    version = await api.get<Version>(`/api/versions/${encodePath(wanted)}`);
  } catch (error) {
    body.replaceChildren(problemBox(error));
    return;
  }
  if (!context.current()) return;
  title.textContent = `Revision ${shortSha(version.revision)}`;
  const parent = version.parents[0];
  const trailers = trailerPairs(version.trailers);
  const summary = h('section', { class: 'card', 'aria-labelledby': 'commit-heading' },
    h('h2', { id: 'commit-heading' }, version.subject || '(no message)', ' ', version.head ? badge('head', 'head') : null, ' ', version.active ? badge('active', 'active') : null),
    h('dl', { class: 'facts' },
      h('dt', null, 'Revision'), h('dd', null, h('code', null, version.revision)),
      h('dt', null, 'Author'), h('dd', null, `${version.author.name} <${version.author.email}>, `, time(version.author.date)),
      h('dt', null, 'Committer'), h('dd', null, `${version.committer.name} <${version.committer.email}>, `, time(version.committer.date)),
      h('dt', null, version.parents.length > 1 ? 'Parents' : 'Parent'),
      h('dd', null, version.parents.length === 0 ? 'none (first revision)' : version.parents.map((sha, index) => [index > 0 ? ', ' : null, h('a', { href: `#/revision/${sha}` }, h('code', null, shortSha(sha)))])),
      trailers.length > 0 ? [h('dt', null, 'Trailers'), h('dd', null, h('ul', { class: 'plain' }, trailers.map(([key, value]) => h('li', null, h('code', null, key), `: ${value}`))))] : null),
    version.message.trim() !== version.subject ? h('pre', { class: 'message' }, version.message.trim()) : null,
    h('h3', null, 'Files changed'), changedFiles(version.files),
    h('p', { class: 'actions' },
      parent ? h('a', { class: 'button secondary', href: `#/diff?from=${parent}&to=${version.revision}` }, 'Diff with parent') : null,
      h('a', { class: 'button secondary', href: `#/diff?from=${version.revision}&to=head` }, 'Diff with head'),
      h('a', { class: 'button secondary', href: `#/playground?revision=${version.revision}` }, 'Evaluate at this revision')));
  body.replaceChildren(summary);
  if (hasRole(context.principal, 'admin') && !version.head) body.append(rollbackPanel(context, version));
  body.append(await filesSection(context, version.revision, query.get('file')));
}

function rollbackPanel(context: ViewContext, version: Version): HTMLElement {
  const message = h('input', { type: 'text', name: 'message', class: 'wide', value: `Roll back to ${shortSha(version.revision)}: ${version.subject}`.slice(0, 200) });
  const result = h('div', { class: 'result' });
  const confirm = h('form', { class: 'confirm', hidden: true },
    h('p', null, 'A new commit on the tracked branch will have exactly the files of this revision. It goes through the gate and reaches every agent.'),
    field('Commit message', message),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Confirm rollback'), h('button', { type: 'button', class: 'secondary', onclick: () => { confirm.hidden = true; start.focus(); } }, 'Cancel')));
  const start = h('button', { type: 'button', class: 'danger' }, 'Roll back to this revision…');
  start.addEventListener('click', () => {
    confirm.hidden = false;
    message.focus();
  });
  confirm.addEventListener('submit', (event) => {
    event.preventDefault();
    const submit = confirm.querySelector<HTMLButtonElement>('button[type=submit]')!;
    submit.disabled = true;
    result.replaceChildren(h('p', { 'aria-busy': 'true' }, 'Rolling back…'));
    void (async () => {
      try {
        const head = await context.api.get<Version>('/api/versions/head');
        const done = await context.api.send<ChangeResult>('POST', `/api/versions/${version.revision}/activate`, { baseRevision: head.revision, message: message.value });
        result.replaceChildren(h('p', { class: 'success' }, 'Rolled back: new revision ', h('a', { href: `#/revision/${done.revision}` }, h('code', null, shortSha(done.revision))), `, activation ${done.activation.state}.`));
        announce(`Rolled back to ${shortSha(version.revision)}: new revision ${shortSha(done.revision)}, activation ${done.activation.state}.`, done.activation.state === 'active' ? 'success' : 'error');
        confirm.hidden = true;
      } catch (error) {
        result.replaceChildren(problemBox(error));
        announce('The rollback was refused.', 'error');
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return h('section', { class: 'card admin', 'aria-labelledby': 'rollback-heading' }, h('h2', { id: 'rollback-heading' }, 'Roll back'), start, confirm, result);
}

async function filesSection(context: ViewContext, revision: string, selected: string | null): Promise<HTMLElement> {
  const section = h('section', { class: 'card', 'aria-labelledby': 'files-heading' }, h('h2', { id: 'files-heading' }, 'Files at this revision'));
  let listing: PolicyListing;
  try {
    listing = await context.api.get<PolicyListing>('/api/policies', { revision });
  } catch (error) {
    section.append(problemBox(error));
    return section;
  }
  const rows = listing.files.map((file) =>
    h('tr', { class: file.path === selected ? 'selected' : '' },
      h('td', null, h('a', { href: `#/revision/${revision}?file=${encodeURIComponent(file.path)}`, 'aria-current': file.path === selected ? 'true' : false }, file.path)),
      h('td', null, file.kind), h('td', null, file.package ?? ''), h('td', null, file.title ?? ''), h('td', { class: 'num' }, file.size)));
  section.append(h('div', { class: 'table-scroll' }, h('table', null,
    h('thead', null, h('tr', null, ['Path', 'Kind', 'Package', 'Title', 'Bytes'].map((name) => h('th', { scope: 'col' }, name)))),
    h('tbody', null, rows))));
  if (selected) {
    const viewer = h('div', { class: 'file-content' }, loading(`Loading ${selected}…`));
    section.append(h('h3', null, selected), viewer);
    try {
      const file = await context.api.get<{ path: string; content: string }>(`/api/policies/${encodePath(selected)}`, { revision, format: 'json' });
      viewer.replaceChildren(codeView(file.path, file.content));
    } catch (error) {
      viewer.replaceChildren(problemBox(error));
    }
  }
  return section;
}
