import { convergenceChart, milestoneText } from '../convergence-chart.js';
import { convergenceCurve, reportedMilestones, type AgentView } from '../convergence.js';
import { badge, formatMs, h, shortSha, time } from '../dom.js';
import { heading, loading, problemBox, type ViewContext } from '../view.js';

interface BundleSummary {
  name: string;
  servedRevision?: string;
  agents: number;
  onServedRevision: number;
  withErrors: number;
  revisions: Record<string, number>;
  convergenceMs?: number;
  [more: string]: unknown;
}

interface FleetPage {
  agents: AgentView[];
  bundles: BundleSummary[];
  omittedBundles: number;
  total: number;
  limit: number;
  nextCursor: string | null;
}

interface ServedBundles {
  bundles?: Record<string, { builtAt?: string }>;
  environments?: Record<string, { bundles?: Record<string, { builtAt?: string }> }>;
}

const REFRESH_MS = 5000;

/** The OPA fleet: per bundle, how much of it enforces the served revision, drawn over time; the agents, a page at a time. */
export async function fleetView(context: ViewContext): Promise<void> {
  const { api, main } = context;
  const content = h('div', null, loading('Loading the fleet…'));
  main.append(heading('Fleet'), h('p', { class: 'hint' }, `Live: refreshed every ${REFRESH_MS / 1000} s while this page is open.`), content);
  let cursor: string | undefined;
  let shown = '';
  const refresh = async (force = false): Promise<void> => {
    const [page, status] = await Promise.all([
      api.get<FleetPage>('/api/fleet', { limit: 1000, cursor }),
      fetch('/status', { credentials: 'omit', cache: 'no-store' }).then((response) => response.json() as Promise<ServedBundles>).catch(() => ({} as ServedBundles)),
    ]);
    if (!context.current()) return;
    const fingerprint = JSON.stringify(page);
    // Redrawn only when something changed, and never under the keyboard focus.
    if (!force && (fingerprint === shown || content.contains(document.activeElement))) return;
    shown = fingerprint;
    content.replaceChildren(render(context, page, status, (next) => {
      cursor = next;
      void refresh(true).then(() => content.querySelector<HTMLElement>('#agents-heading')?.focus()).catch((error: unknown) => content.replaceChildren(problemBox(error)));
    }));
  };
  try {
    await refresh(true);
  } catch (error) {
    content.replaceChildren(problemBox(error));
    return;
  }
  const timer = window.setInterval(() => void refresh().catch(() => undefined), REFRESH_MS);
  context.onLeave(() => window.clearInterval(timer));
}

function publishedAt(status: ServedBundles, bundle: string): number | undefined {
  const slash = bundle.indexOf('/');
  const builtAt = slash > 0
    ? status.environments?.[bundle.slice(0, slash)]?.bundles?.[bundle.slice(slash + 1)]?.builtAt
    : status.bundles?.[bundle]?.builtAt;
  const ms = builtAt ? Date.parse(builtAt) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function render(context: ViewContext, page: FleetPage, status: ServedBundles, goTo: (cursor: string | undefined) => void): HTMLElement {
  const cards = page.bundles.map((bundle) => {
    const curve = convergenceCurve(page.agents, bundle.name, bundle.servedRevision, publishedAt(status, bundle.name));
    const reported = reportedMilestones(bundle);
    const figures = reported ?? curve;
    return h('section', { class: 'card bundle-card', 'aria-labelledby': `bundle-${bundle.name}` },
      h('h2', { id: `bundle-${bundle.name}` }, bundle.name),
      h('dl', { class: 'facts' },
        h('dt', null, 'Served revision'), h('dd', null, bundle.servedRevision ? h('a', { href: `#/revision/${bundle.servedRevision}` }, h('code', null, shortSha(bundle.servedRevision))) : 'not served by this Regent'),
        h('dt', null, 'Agents'), h('dd', null, `${bundle.onServedRevision} of ${bundle.agents} on the served revision`, bundle.withErrors > 0 ? [' · ', badge(`${bundle.withErrors} with errors`, 'error')] : null),
        bundle.convergenceMs !== undefined ? [h('dt', null, 'Converged in'), h('dd', null, formatMs(bundle.convergenceMs))] : null,
        h('dt', null, '50 / 90 / 100%'), h('dd', null, milestoneText(figures), ' ', h('small', { class: 'hint' }, reported ? '(Regent’s figures)' : page.nextCursor ? '(read off this page of agents)' : '(read off the agents’ reports)')),
        h('dt', null, 'Revisions enforced'), h('dd', null, h('ul', { class: 'plain' }, Object.entries(bundle.revisions).map(([revision, count]) => h('li', null, revision === 'none' ? 'none yet' : h('code', null, shortSha(revision)), `: ${count}`))))),
      convergenceChart(bundle.name, curve, reported));
  });
  const rows = page.agents.map((agent) => h('tr', { class: agent.stale ? 'stale' : '' },
    h('th', { scope: 'row' }, agent.agentId, agent.stale ? [' ', badge('stale', 'error')] : null),
    h('td', null, Object.entries(agent.labels ?? {}).filter(([key]) => key !== 'id').map(([key, value]) => h('span', { class: 'label' }, `${key}=${value}`))),
    h('td', null, h('ul', { class: 'plain' }, agent.bundles.map((bundle) => h('li', null,
      h('strong', null, bundle.name), ': ', bundle.activeRevision ? h('code', null, shortSha(bundle.activeRevision)) : 'none',
      bundle.code ? [' ', badge(bundle.code, 'error'), bundle.message ? ` ${bundle.message}` : null] : null)))),
    h('td', null, h('ul', { class: 'plain' }, agent.bundles.map((bundle) => h('li', null, time(bundle.lastSuccessfulActivation))))),
    h('td', null, time(agent.reportedAt))));
  const pager = h('div', { class: 'actions' },
    page.nextCursor ? h('button', { type: 'button', class: 'secondary', onclick: () => goTo(page.nextCursor!) }, 'Next agents') : null);
  return h('div', null,
    h('p', null, `${page.total} agent${page.total === 1 ? '' : 's'} remembered.`, page.omittedBundles > 0 ? ` ${page.omittedBundles} more bundle names reported by agents are not summarized.` : ''),
    page.bundles.length === 0 ? h('p', { class: 'empty' }, 'No agent has reported yet. Agents report with OPA’s status plugin (status: {service: regent}).') : h('div', { class: 'bundle-grid' }, cards),
    h('h2', { id: 'agents-heading', tabindex: -1 }, 'Agents'),
    page.agents.length === 0 ? h('p', { class: 'empty' }, 'No agents on this page.') : h('div', { class: 'table-scroll', tabindex: 0, role: 'region', 'aria-label': 'Agents' }, h('table', null,
      h('thead', null, h('tr', null, ['Agent', 'Labels', 'Bundles', 'Activated', 'Last report'].map((name) => h('th', { scope: 'col' }, name)))),
      h('tbody', null, rows))),
    pager);
}
