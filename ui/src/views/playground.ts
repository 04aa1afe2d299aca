import { announce } from '../announce.js';
import { field, h, replaceChildren, shortSha } from '../dom.js';
import type { VersionPage } from '../versions.js';
import { heading, problemBox, type ViewContext } from '../view.js';

const EXAMPLE_INPUT = JSON.stringify({ subject: 'carol', action: 'edit', resource: { type: 'workflow', project: 'apollo' } }, null, 2);

interface Evaluation {
  revision: string;
  result?: unknown;
  defined?: boolean;
  durationMs?: number;
  explanation?: unknown;
  [more: string]: unknown;
}

/** Evaluate a query with an input at any revision (`POST /api/evaluate`, editor), with OPA's explanation where this Regent offers one. */
export async function playgroundView(context: ViewContext): Promise<void> {
  const { api, main, query } = context;
  main.append(heading('Playground'));
  const revision = h('input', { type: 'text', name: 'revision', list: 'playground-revisions', value: query.get('revision') ?? 'head', spellcheck: 'false', class: 'sha-input' });
  const revisions = h('datalist', { id: 'playground-revisions' });
  const queryInput = h('input', { type: 'text', name: 'query', value: query.get('query') ?? 'data.rbac.allow', spellcheck: 'false', class: 'wide' });
  const input = h('textarea', { name: 'input', rows: 10, spellcheck: 'false', class: 'wide code' });
  input.value = EXAMPLE_INPUT;
  const inputError = h('p', { id: 'input-error', class: 'field-error', hidden: true });
  const operation = await api.operation('post', '/api/evaluate').catch(() => undefined);
  if (!context.current()) return;
  const schema = operation?.requestBody?.content?.['application/json']?.schema as { properties?: Record<string, { enum?: string[] }> } | undefined;
  const explainModes = schema?.properties?.explain?.enum;
  const explain = explainModes ? h('select', { name: 'explain' }, h('option', { value: '' }, 'none'), explainModes.map((mode) => h('option', { value: mode }, mode))) : undefined;
  const output = h('div', { class: 'evaluation' });
  const submit = h('button', { type: 'submit' }, 'Evaluate');
  const form = h('form', { class: 'card playground', 'aria-label': 'Evaluation' },
    field('Revision', revision, 'a SHA, head, active, a branch or tag'), revisions,
    field('Query', queryInput, 'a data reference, e.g. data.rbac.allow'),
    field('Input (JSON)', input), inputError,
    explain ? field('Explanation', explain) : null,
    h('div', { class: 'actions' }, submit));
  main.append(form, h('section', { 'aria-labelledby': 'result-heading' }, h('h2', { id: 'result-heading' }, 'Result'), output));
  void api.get<VersionPage>('/api/versions', { limit: 50 }).then((page) => {
    revisions.append(...page.versions.map((version) => h('option', { value: version.revision }, `${shortSha(version.revision)} ${version.subject}`)));
  }, () => undefined);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = input.value.trim() === '' ? undefined : JSON.parse(input.value);
      input.removeAttribute('aria-invalid');
      inputError.hidden = true;
    } catch (error) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'input-error');
      inputError.textContent = `The input is not JSON: ${(error as Error).message}`;
      inputError.hidden = false;
      output.replaceChildren();
      input.focus();
      return;
    }
    submit.disabled = true;
    output.replaceChildren(h('p', { 'aria-busy': 'true' }, 'Evaluating with OPA…'));
    const body: Record<string, unknown> = { query: queryInput.value.trim(), revision: revision.value.trim() || 'head' };
    if (parsed !== undefined) body.input = parsed;
    if (explain?.value) body.explain = explain.value;
    void api.send<Evaluation>('POST', '/api/evaluate', body).then((answer) => {
      const { result, explanation } = answer;
      replaceChildren(output,
        h('p', null, `At `, h('a', { href: `#/revision/${answer.revision}` }, h('code', null, shortSha(answer.revision))), answer.durationMs !== undefined ? ` in ${Math.round(answer.durationMs)} ms` : '', ': ',
          answer.defined === false ? h('strong', null, 'undefined') : h('strong', { class: 'verdict' }, JSON.stringify(result))),
        answer.defined === false ? null : h('pre', { class: 'json', tabindex: 0, 'aria-label': 'Result as JSON' }, JSON.stringify(result, null, 2)),
        explanation !== undefined ? [h('h3', null, 'Explanation'), h('pre', { class: 'json', tabindex: 0 }, typeof explanation === 'string' ? explanation : JSON.stringify(explanation, null, 2))] : null);
      announce(`Evaluated: ${answer.defined === false ? 'undefined' : JSON.stringify(result).slice(0, 80)}.`, 'success');
    }, (error: unknown) => {
      output.replaceChildren(problemBox(error));
      announce('The evaluation failed.', 'error');
    }).finally(() => (submit.disabled = false));
  });
}
