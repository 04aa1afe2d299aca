import { announce } from '../announce.js';
import { field, h, shortSha, time } from '../dom.js';
import { heading, notAvailable, problemBox, type ViewContext } from '../view.js';

interface DecisionRecord {
  decisionId: string;
  timestamp: string;
  path: string;
  agentId: string;
  bundles?: Record<string, { revision: string }>;
  result?: unknown;
  error?: unknown;
}

/** Decisions the fleet made (`GET /api/decisions`, auditor), when this Regent records them; filters are the ones its OpenAPI document lists. */
export async function decisionsView(context: ViewContext): Promise<void> {
  const { api, main, query } = context;
  main.append(heading('Decisions'));
  const operation = await api.operation('get', '/api/decisions').catch(() => undefined);
  if (!context.current()) return;
  if (!operation) {
    main.append(notAvailable('The decision log'), h('p', { class: 'hint' }, 'This Regent does not record the decisions of its agents (no GET /api/decisions in its OpenAPI document).'));
    return;
  }
  const names = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query' && parameter.name !== 'limit' && parameter.name !== 'cursor').map((parameter) => parameter.name);
  const inputs = new Map(names.map((name) => [name, h('input', { type: 'text', name, value: query.get(name) ?? '' })]));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter decisions' },
    [...inputs].map(([name, input]) => field(name, input)), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, input] of inputs) if (input.value.trim()) params.set(name, input.value.trim());
    context.navigate(`/decisions${params.size > 0 ? `?${params}` : ''}`, { replace: true });
  });
  const tbody = h('tbody');
  const more = h('div', { class: 'more' });
  main.append(form, h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': 'Decisions' }, h('table', null,
    h('thead', null, h('tr', null, ['When', 'Agent', 'Path', 'Result', 'Revisions', 'Decision id'].map((name) => h('th', { scope: 'col' }, name)))), tbody)), more);
  const filters: Record<string, string> = {};
  for (const name of names) if (query.get(name)) filters[name] = query.get(name)!;
  let count = 0;
  const load = async (cursor: string | undefined): Promise<void> => {
    const page = await api.get<{ records?: DecisionRecord[]; decisions?: DecisionRecord[]; nextCursor?: string | null }>('/api/decisions', { ...filters, limit: 100, cursor });
    if (!context.current()) return;
    const records = page.records ?? page.decisions ?? [];
    count += records.length;
    tbody.append(...records.map((record) => h('tr', null,
      h('td', null, time(record.timestamp)), h('td', null, record.agentId), h('td', null, h('code', null, record.path)),
      h('td', null, record.error !== undefined ? h('span', { class: 'problem' }, JSON.stringify(record.error)) : h('code', null, JSON.stringify(record.result) ?? 'undefined')),
      h('td', null, Object.entries(record.bundles ?? {}).map(([bundle, { revision }]) => h('span', { class: 'label' }, `${bundle}@${shortSha(revision)}`))),
      h('td', null, h('code', null, record.decisionId)))));
    more.replaceChildren(h('p', { class: 'hint' }, count === 0 ? 'No decision matches.' : `${count} decisions shown, newest first.`));
    if (page.nextCursor) {
      const button = h('button', { type: 'button', class: 'secondary' }, 'Load older decisions');
      button.addEventListener('click', () => {
        button.disabled = true;
        void load(page.nextCursor!).then(() => announce(`${count} decisions shown.`), (error: unknown) => more.replaceChildren(problemBox(error)));
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
