import { announce } from '../announce.js';
import { changedFiles, renderPatch } from '../diff-render.js';
import { badge, field, h, replaceChildren, shortSha, time } from '../dom.js';
import { hasRole } from '../session.js';
import type { Signature } from '../versions.js';
import { heading, loading, notAvailable, problemBox, problemList, type GateProblem, type ViewContext } from '../view.js';

interface Validation {
  head: string;
  tip: string;
  ok: boolean;
  current: boolean;
  conflicts?: string[];
  problems?: GateProblem[];
  tests?: { passed?: number; failed?: number; errored?: number };
  bundles?: string[];
  at?: string;
}

interface ChangeRequest {
  id: number;
  title: string;
  state: 'open' | 'approved' | 'rejected' | 'merged';
  author: Signature & { subject?: string };
  contributors?: string[];
  baseRevision: string;
  tip: string;
  createdAt?: string;
  updatedAt?: string;
  approvals?: Array<{ subject: string; name?: string; at?: string; comment?: string }>;
  commentCount?: number;
  validation: Validation | null;
  rejection?: { subject?: string; reason?: string; at?: string };
  merge?: { subject?: string; revision?: string; strategy?: string; at?: string };
}

interface ChangeRequestDetail extends ChangeRequest {
  description?: string;
  comments?: Array<{ id: number; subject: string; name?: string; body: string; at: string }>;
  commits?: Array<{ revision: string; author: Signature; message: string }>;
  diff?: { from: string; to: string; files: Array<{ path: string; status: string }>; patch: string };
}

const STATES = ['open', 'approved', 'merged', 'rejected'] as const;

/** Change requests: the list, or one with its diff, validation, comments and the admin's buttons. */
export async function changeRequestsView(context: ViewContext): Promise<void> {
  if (context.params[0]) return detail(context, context.params[0]);
  const { api, main, query } = context;
  const state = query.get('state') ?? '';
  const select = h('select', { name: 'state' }, h('option', { value: '' }, 'all'), STATES.map((value) => h('option', { value, selected: value === state }, value)));
  const form = h('form', { class: 'filters', 'aria-label': 'Filter change requests' }, field('State', select), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    context.navigate(`/change-requests${select.value ? `?state=${select.value}` : ''}`, { replace: true });
  });
  const body = h('div', null, loading());
  main.append(heading('Change requests'), form, body);
  try {
    const { changeRequests } = await api.get<{ changeRequests: ChangeRequest[] }>('/api/change-requests', { state: state || undefined });
    if (!context.current()) return;
    body.replaceChildren(changeRequests.length === 0
      ? h('p', { class: 'empty' }, 'No change requests. Editors propose them with POST /api/change-requests.')
      : h('div', { class: 'table-scroll' }, h('table', null,
        h('thead', null, h('tr', null, ['#', 'Title', 'State', 'Author', 'Validation', 'Approvals', 'Updated'].map((name) => h('th', { scope: 'col' }, name)))),
        h('tbody', null, changeRequests.map((request) => h('tr', null,
          h('td', { class: 'num' }, request.id),
          h('td', null, h('a', { href: `#/change-requests/${request.id}` }, request.title)),
          h('td', null, badge(request.state, request.state)),
          h('td', null, request.author.name),
          h('td', null, validationBadge(request.validation)),
          h('td', { class: 'num' }, request.approvals?.length ?? 0),
          h('td', null, time(request.updatedAt ?? request.createdAt))))))));
  } catch (error) {
    body.replaceChildren(problemBox(error));
  }
}

function validationBadge(validation: Validation | null): HTMLElement {
  if (!validation) return badge('not validated', 'pending');
  if (!validation.current) return badge('revalidating', 'pending');
  return validation.ok ? badge('valid', 'ok') : badge('invalid', 'error');
}

async function detail(context: ViewContext, id: string): Promise<void> {
  const { api, main } = context;
  const title = heading(`Change request #${id}`);
  const body = h('div', null, loading());
  main.append(title, body);
  let request: ChangeRequestDetail;
  try {
    request = await api.get<ChangeRequestDetail>(`/api/change-requests/${encodeURIComponent(id)}`);
  } catch (error) {
    body.replaceChildren(problemBox(error));
    return;
  }
  if (!context.current()) return;
  title.textContent = `Change request #${request.id}: ${request.title}`;
  const validation = request.validation;
  replaceChildren(body,
    h('section', { class: 'card' },
      h('p', null, badge(request.state, request.state), ' proposed by ', h('strong', null, request.author.name), ' ', time(request.createdAt)),
      request.description ? h('p', { class: 'description' }, request.description) : null,
      h('dl', { class: 'facts' },
        h('dt', null, 'Base'), h('dd', null, h('a', { href: `#/revision/${request.baseRevision}` }, h('code', null, shortSha(request.baseRevision)))),
        h('dt', null, 'Tip'), h('dd', null, h('code', null, shortSha(request.tip))),
        h('dt', null, 'Approvals'), h('dd', null, (request.approvals ?? []).length === 0 ? 'none yet' : h('ul', { class: 'plain' }, (request.approvals ?? []).map((approval) => h('li', null, approval.name ?? approval.subject, ' ', time(approval.at), approval.comment ? `: ${approval.comment}` : '')))),
        request.merge ? [h('dt', null, 'Merged'), h('dd', null, `by ${request.merge.subject ?? '?'} (${request.merge.strategy ?? ''}) as `, request.merge.revision ? h('a', { href: `#/revision/${request.merge.revision}` }, h('code', null, shortSha(request.merge.revision))) : '?', ' ', time(request.merge.at))] : null,
        request.rejection ? [h('dt', null, 'Rejected'), h('dd', null, `by ${request.rejection.subject ?? '?'}${request.rejection.reason ? `: ${request.rejection.reason}` : ''}`)] : null)),
    h('section', { class: 'card', 'aria-labelledby': 'validation-heading' },
      h('h2', { id: 'validation-heading' }, 'Validation ', validationBadge(validation)),
      validation ? validationDetails(validation) : h('p', null, 'Not validated yet.')),
    actions(context, request),
    await impactSection(context, request),
    h('section', { class: 'card', 'aria-labelledby': 'diff-heading' },
      h('h2', { id: 'diff-heading' }, 'Changes'),
      request.diff ? [changedFiles(request.diff.files), renderPatch(request.diff.patch, 'h3')] : h('p', null, 'No diff.')),
    commentsSection(context, request));
}

function validationDetails(validation: Validation): HTMLElement {
  return h('div', null,
    h('p', null, `Merged onto head `, h('code', null, shortSha(validation.head)), validation.current ? '' : ' (head or tip moved since: revalidating)', validation.at ? [' at ', time(validation.at)] : null, '.'),
    validation.tests ? h('p', null, `Rego tests: ${validation.tests.passed ?? 0} passed, ${validation.tests.failed ?? 0} failed, ${validation.tests.errored ?? 0} errored.`) : null,
    (validation.conflicts ?? []).length > 0 ? h('p', { class: 'problem' }, `Conflicts with head in: ${(validation.conflicts ?? []).join(', ')}`) : null,
    (validation.problems ?? []).length > 0 ? problemList(validation.problems ?? []) : null,
    (validation.bundles ?? []).length > 0 ? h('p', { class: 'hint' }, `Bundles built: ${(validation.bundles ?? []).join(', ')}`) : null);
}

function actions(context: ViewContext, request: ChangeRequestDetail): HTMLElement | null {
  const { principal } = context;
  const isAdmin = hasRole(principal, 'admin');
  const isAuthor = principal?.subject !== undefined && principal.subject === request.author.subject;
  const contributed = principal !== undefined && (request.contributors ?? []).includes(principal.subject);
  const live = request.state === 'open' || request.state === 'approved';
  if (!live || (!isAdmin && !isAuthor)) return null;
  const result = h('div', { class: 'result' });
  const run = async (button: HTMLButtonElement, work: () => Promise<string>): Promise<void> => {
    button.disabled = true;
    result.replaceChildren(h('p', { 'aria-busy': 'true' }, 'Working…'));
    try {
      const message = await work();
      announce(message, 'success');
      context.navigate(`/change-requests/${request.id}`, { replace: true });
    } catch (error) {
      result.replaceChildren(problemBox(error));
      announce('Refused: see the message on the page.', 'error');
      button.disabled = false;
    }
  };
  const buttons: HTMLElement[] = [];
  const comment = h('input', { type: 'text', name: 'approval-comment', class: 'wide' });
  if (isAdmin && request.state === 'open' && !contributed) {
    const approve = h('button', { type: 'button' }, 'Approve');
    approve.addEventListener('click', () => void run(approve, async () => {
      await context.api.send('POST', `/api/change-requests/${request.id}/approve`, { tip: request.tip, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) });
      return `Approved change request #${request.id}.`;
    }));
    buttons.push(field('Approval comment (optional)', comment), approve);
  }
  if (isAdmin && contributed && request.state === 'open') buttons.push(h('p', { class: 'hint' }, 'You put commits on this request, so another admin approves it.'));
  if (isAdmin && request.state === 'open') {
    buttons.push(h('button', { type: 'button', disabled: true, 'aria-describedby': 'merge-hint' }, 'Merge'), h('small', { id: 'merge-hint', class: 'hint' }, 'Merging needs an approval of the current tip by an admin who put no commit on it.'));
  }
  if (isAdmin && request.state === 'approved') {
    const merge = h('button', { type: 'button' }, 'Merge');
    merge.addEventListener('click', () => void run(merge, async () => {
      const merged = await context.api.send<{ revision: string; activation?: { state: string } }>('POST', `/api/change-requests/${request.id}/merge`);
      return `Merged change request #${request.id} as ${shortSha(merged.revision)}, activation ${merged.activation?.state ?? 'unknown'}.`;
    }));
    buttons.push(merge);
  }
  const reason = h('input', { type: 'text', name: 'reject-reason', class: 'wide' });
  const reject = h('button', { type: 'button', class: 'danger' }, isAuthor && !isAdmin ? 'Withdraw' : 'Reject');
  reject.addEventListener('click', () => void run(reject, async () => {
    await context.api.send('POST', `/api/change-requests/${request.id}/reject`, reason.value.trim() ? { reason: reason.value.trim() } : {});
    return `Rejected change request #${request.id}.`;
  }));
  buttons.push(field('Reason for rejecting (optional)', reason), reject);
  return h('section', { class: 'card admin', 'aria-labelledby': 'actions-heading' }, h('h2', { id: 'actions-heading' }, 'Review'), h('div', { class: 'review-actions' }, buttons), result);
}

/** "Which real decisions would this flip?" — when this Regent has impact analysis (`POST /api/impact`). */
async function impactSection(context: ViewContext, request: ChangeRequestDetail): Promise<HTMLElement | null> {
  if (request.state === 'merged' || request.state === 'rejected') return null;
  const section = h('section', { class: 'card', 'aria-labelledby': 'impact-heading' }, h('h2', { id: 'impact-heading' }, 'Impact on recorded decisions'));
  const operation = await context.api.operation('post', '/api/impact').catch(() => undefined);
  if (!operation) {
    section.append(notAvailable('Impact analysis'));
    return section;
  }
  const output = h('div');
  const button = h('button', { type: 'button', class: 'secondary' }, 'Replay the last day’s decisions');
  button.addEventListener('click', () => {
    button.disabled = true;
    output.replaceChildren(h('p', { 'aria-busy': 'true' }, 'Replaying decisions with OPA…'));
    const since = new Date(Date.now() - 86_400_000).toISOString();
    void context.api.send<unknown>('POST', '/api/impact', { from: request.validation?.head ?? request.baseRevision, to: request.tip, decisions: { since } })
      .then((answer) => {
        output.replaceChildren(h('pre', { class: 'json', tabindex: 0 }, JSON.stringify(answer, null, 2)));
        announce('Impact analysis done.', 'success');
      }, (error: unknown) => output.replaceChildren(problemBox(error)))
      .finally(() => (button.disabled = false));
  });
  section.append(button, output);
  return section;
}

function commentsSection(context: ViewContext, request: ChangeRequestDetail): HTMLElement {
  const comments = request.comments ?? [];
  const section = h('section', { class: 'card', 'aria-labelledby': 'comments-heading' },
    h('h2', { id: 'comments-heading' }, `Comments (${comments.length})`),
    comments.length === 0 ? h('p', { class: 'empty' }, 'No comments.') : h('ul', { class: 'comments' }, comments.map((comment) =>
      h('li', null, h('p', { class: 'meta' }, h('strong', null, comment.name ?? comment.subject), ' ', time(comment.at)), h('p', null, comment.body)))));
  if (hasRole(context.principal, 'editor') && (request.state === 'open' || request.state === 'approved')) {
    const text = h('textarea', { name: 'comment', rows: 3, class: 'wide' });
    const form = h('form', null, field('Add a comment', text), h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Comment')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!text.value.trim()) return;
      void context.api.send('POST', `/api/change-requests/${request.id}/comments`, { body: text.value.trim() })
        .then(() => {
          announce('Comment added.', 'success');
          context.navigate(`/change-requests/${request.id}`, { replace: true });
        }, (error: unknown) => form.append(problemBox(error)));
    });
    section.append(form);
  }
  return section;
}
