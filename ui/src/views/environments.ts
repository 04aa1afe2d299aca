import { announce } from '../announce.js';
import { badge, field, h, shortSha, time } from '../dom.js';
import { hasRole } from '../session.js';
import type { VersionPage } from '../versions.js';
import { heading, loading, problemBox, type ViewContext } from '../view.js';

interface Environment {
  name: string;
  ref: string;
  kind: 'tag' | 'branch';
  revision: string | null;
  active: string | null;
  activatedAt: string | null;
  revisionDiffersFromActive: boolean;
  inProgress: string | null;
  bundles: Record<string, { revision?: string; builtAt?: string }>;
  lastError: { code?: string; detail?: string; message?: string } | null;
}

/** Environments (bundle sets following a tag or branch): what each names and serves, and promotion or rollback for admins. */
export async function environmentsView(context: ViewContext): Promise<void> {
  const { api, main } = context;
  const body = h('div', null, loading());
  main.append(heading('Environments'), body);
  let environments: Environment[];
  let history: VersionPage | undefined;
  try {
    [{ environments }, history] = await Promise.all([
      api.get<{ environments: Environment[] }>('/api/environments'),
      api.get<VersionPage>('/api/versions', { limit: 100 }).catch(() => undefined),
    ]);
  } catch (error) {
    body.replaceChildren(problemBox(error));
    return;
  }
  if (!context.current()) return;
  if (environments.length === 0) {
    body.replaceChildren(h('p', { class: 'empty' }, 'No environments are configured on this server (environments in its configuration).'));
    return;
  }
  body.replaceChildren(...environments.map((environment) => card(context, environment, history)));
}

function card(context: ViewContext, environment: Environment, history: VersionPage | undefined): HTMLElement {
  const subjectOf = (revision: string | null): string => history?.versions.find((version) => version.revision === revision)?.subject ?? '';
  const link = (revision: string | null): HTMLElement | string => revision ? h('a', { href: `#/revision/${revision}` }, h('code', null, shortSha(revision))) : 'none';
  return h('section', { class: 'card', 'aria-labelledby': `env-${environment.name}` },
    h('h2', { id: `env-${environment.name}` }, environment.name, ' ', environment.revisionDiffersFromActive ? badge('not serving its ref', 'error') : badge('serving its ref', 'ok')),
    h('dl', { class: 'facts' },
      h('dt', null, 'Follows'), h('dd', null, h('code', null, environment.ref), ` (${environment.kind})`),
      h('dt', null, 'Names'), h('dd', null, link(environment.revision), ' ', subjectOf(environment.revision)),
      h('dt', null, 'Serves'), h('dd', null, link(environment.active), ' ', subjectOf(environment.active), environment.activatedAt ? [' since ', time(environment.activatedAt)] : null),
      environment.inProgress ? [h('dt', null, 'Activating'), h('dd', null, link(environment.inProgress))] : null,
      h('dt', null, 'Bundles'), h('dd', null, Object.keys(environment.bundles).length === 0 ? 'none' : Object.keys(environment.bundles).map((name) => h('code', { class: 'bundle-name' }, `/bundles/${environment.name}/${name}`))),
      environment.lastError ? [h('dt', null, 'Last error'), h('dd', { class: 'problem' }, `${environment.lastError.detail ?? environment.lastError.message ?? ''} [${environment.lastError.code ?? 'error'}]`)] : null),
    hasRole(context.principal, 'admin') ? promoteForm(context, environment, history) : null);
}

function promoteForm(context: ViewContext, environment: Environment, history: VersionPage | undefined): HTMLElement {
  const select = h('select', { name: 'revision' },
    (history?.versions ?? []).map((version) => h('option', { value: version.revision, selected: version.revision === environment.revision },
      `${shortSha(version.revision)} ${version.subject}${version.head ? ' (head)' : ''}${version.revision === environment.revision ? ' (here now)' : ''}`)));
  const message = h('input', { type: 'text', name: 'message', class: 'wide', placeholder: `Promote ${environment.name}` });
  const result = h('div', { class: 'result' });
  const submit = h('button', { type: 'submit' }, 'Move environment');
  const form = h('form', { class: 'promote' },
    h('h3', null, 'Promote or roll back'),
    h('p', { class: 'hint' }, `Moves ${environment.ref} to the chosen revision of the tracked branch (newer: promote; older: roll back). It is validated first, and agents pulling /bundles/${environment.name}/… follow it.`),
    field(`Revision for ${environment.name}`, select), field('Message (optional)', message),
    h('div', { class: 'actions' }, submit), result);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (select.value === environment.revision) {
      result.replaceChildren(h('p', { class: 'hint' }, `${environment.name} already names that revision.`));
      return;
    }
    submit.disabled = true;
    result.replaceChildren(h('p', { 'aria-busy': 'true' }, 'Moving…'));
    const headers: Record<string, string> = environment.revision ? { 'If-Match': `"${environment.revision}"` } : { 'If-None-Match': '*' };
    void context.api.send<{ revision: string; activation?: { state: string } }>('PUT', `/api/environments/${encodeURIComponent(environment.name)}`, { revision: select.value, ...(message.value.trim() ? { message: message.value.trim() } : {}) }, headers)
      .then((moved) => {
        announce(`${environment.name} now names ${shortSha(moved.revision)}, activation ${moved.activation?.state ?? 'unknown'}.`, 'success');
        context.navigate('/environments', { replace: true });
      }, (error: unknown) => {
        result.replaceChildren(problemBox(error));
        announce(`Moving ${environment.name} was refused.`, 'error');
        submit.disabled = false;
      });
  });
  return form;
}
