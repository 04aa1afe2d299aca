import { announce } from '../announce.js';
import { badge, field, h, shortSha, time } from '../dom.js';
import { heading, loading, problemBox, type ViewContext } from '../view.js';

interface AuditRecord {
  seq: number;
  at: string;
  action: string;
  outcome: string;
  subject?: string;
  role?: string;
  requestId?: string;
  revision?: string;
  baseRevision?: string;
  changeRequest?: string;
  environment?: string;
  paths?: string[];
  reason?: string;
  detail?: string;
}

interface AuditChain {
  chain: 'ok' | 'broken';
  brokenAt?: { file: string; line: number; seq: number | null; reason: string } | null;
}

interface AuditPage {
  records: AuditRecord[];
  nextBefore: number | null;
  chain?: AuditChain;
}

const FILTERS = ['subject', 'path', 'action', 'since', 'until'] as const;

/** The audit log, newest first, with filters, and whether its hash chain holds. */
export async function auditView(context: ViewContext): Promise<void> {
  const { api, main, query } = context;
  main.append(heading('Audit log'));
  const operation = await api.operation('get', '/api/audit').catch(() => undefined);
  if (!context.current()) return;
  const actions = operation?.parameters?.find((parameter) => parameter.name === 'action')?.schema?.enum ?? [];
  const inputs = {
    subject: h('input', { type: 'text', name: 'subject', value: query.get('subject') ?? '' }),
    path: h('input', { type: 'text', name: 'path', value: query.get('path') ?? '', placeholder: 'rbac/ or rbac/data.json' }),
    action: actions.length > 0
      ? h('select', { name: 'action' }, h('option', { value: '' }, 'any'), actions.map((action) => h('option', { value: action, selected: query.get('action') === action }, action)))
      : h('input', { type: 'text', name: 'action', value: query.get('action') ?? '' }),
    since: h('input', { type: 'datetime-local', name: 'since', step: 1, value: localValue(query.get('since')) }),
    until: h('input', { type: 'datetime-local', name: 'until', step: 1, value: localValue(query.get('until')) }),
  };
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the audit log' },
    field('Subject', inputs.subject), field('Path', inputs.path), field('Action', inputs.action),
    field('Since', inputs.since), field('Until', inputs.until),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter'), FILTERS.some((name) => query.get(name)) ? h('a', { class: 'button secondary', href: '#/audit' }, 'Clear') : null));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = inputs[name].value.trim();
      if (!value) continue;
      params.set(name, name === 'since' || name === 'until' ? new Date(value).toISOString() : value);
    }
    const search = params.toString();
    context.navigate(`/audit${search ? `?${search}` : ''}`, { replace: true });
  });
  const chain = h('div', { class: 'chain' });
  const tbody = h('tbody');
  const table = h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': 'Audit records' }, h('table', { class: 'audit' },
    h('thead', null, h('tr', null, ['Seq', 'When', 'Action', 'Outcome', 'Who', 'Revision', 'Paths', 'Reason / detail'].map((name) => h('th', { scope: 'col' }, name)))),
    tbody));
  const more = h('div', { class: 'more' }, loading('Loading the audit log…'));
  main.append(chain, form, table, more);

  const filters: Record<string, string | undefined> = {};
  for (const name of FILTERS) filters[name] = query.get(name) ?? undefined;
  let count = 0;
  const load = async (before: number | undefined): Promise<void> => {
    const page = await api.get<AuditPage>('/api/audit', { ...filters, before, limit: 100 });
    if (!context.current()) return;
    if (page.chain) chain.replaceChildren(chainHealth(page.chain));
    const brokenSeq = page.chain?.brokenAt?.seq ?? null;
    for (const record of page.records) tbody.append(row(record, brokenSeq));
    count += page.records.length;
    more.replaceChildren(count === 0 ? h('p', { class: 'empty' }, 'No audit record matches.') : h('p', { class: 'hint' }, `${count} records shown, newest first.`));
    if (page.nextBefore !== null) {
      const button = h('button', { type: 'button', class: 'secondary' }, 'Load older records');
      button.addEventListener('click', () => {
        button.disabled = true;
        void load(page.nextBefore!).then(() => announce(`${count} records shown.`), (error: unknown) => more.replaceChildren(problemBox(error)));
      });
      more.append(button);
    }
  };
  try {
    await load(undefined);
  } catch (error) {
    more.replaceChildren(problemBox(error));
  }
}

function chainHealth(state: AuditChain): HTMLElement {
  if (state.chain === 'ok') {
    return h('p', { class: 'health ok' }, h('strong', null, 'Hash chain: intact.'), ' Every record follows the one before it, as checked when Regent started.');
  }
  const at = state.brokenAt;
  return h('div', { class: 'health broken', role: 'alert' },
    h('p', null, h('strong', null, 'Hash chain: broken.'), ' Records after the break cannot be trusted; admin writes are refused until an operator recovers the log.'),
    at ? h('p', null, `First line that does not follow: ${at.file} line ${at.line}${at.seq === null ? '' : ` (seq ${at.seq})`}: ${at.reason}.`) : null);
}

/**
 * A record; from the line before the break on, marked as not to be trusted: the first line that does not
 * follow, or the one before it, is not what Regent wrote.
 */
function row(record: AuditRecord, brokenSeq: number | null): HTMLTableRowElement {
  const untrusted = brokenSeq !== null && record.seq >= brokenSeq - 1;
  const revision = record.revision ? h('a', { href: `#/revision/${record.revision}` }, h('code', null, shortSha(record.revision))) : '';
  return h('tr', { class: `outcome-${record.outcome}${untrusted ? ' untrusted' : ''}` },
    h('td', { class: 'num' }, record.seq, untrusted ? [' ', badge('not trusted', 'error')] : null),
    h('td', null, time(record.at)),
    h('td', null, h('code', null, record.action), record.environment ? ` (${record.environment})` : null, record.changeRequest ? h('a', { href: `#/change-requests/${record.changeRequest}` }, ` #${record.changeRequest}`) : null),
    h('td', null, record.outcome),
    h('td', null, record.subject ?? '', record.role ? ` (${record.role})` : ''),
    h('td', null, revision),
    h('td', null, (record.paths ?? []).slice(0, 5).join(', '), (record.paths?.length ?? 0) > 5 ? ` +${record.paths!.length - 5}` : ''),
    h('td', { class: 'detail' }, record.reason ? h('code', null, record.reason) : null, record.reason && record.detail ? ' ' : null, record.detail ?? ''));
}

/** An ISO time as a `datetime-local` value (local time, to the second). */
function localValue(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
