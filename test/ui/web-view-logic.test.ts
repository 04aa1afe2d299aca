import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { convergenceCurve, reportedMilestones, type AgentView } from '../../ui/src/convergence.js';
import { parsePatch } from '../../ui/src/patch.js';
import { tokenizeRego } from '../../ui/src/rego-tokens.js';
import { EXAMPLE_POLICIES } from '../helpers/start-regent.js';

describe('the Rego highlighter', () => {
  test.each(['rbac/policy.rego', 'rbac/policy_test.rego', 'datasets/policy.rego'])('gives back %s exactly, token by token', (path) => {
    const source = readFileSync(join(EXAMPLE_POLICIES, path), 'utf8');
    expect(tokenizeRego(source).map((token) => token.text).join('')).toBe(source);
  });

  test('tells keywords, strings, comments, numbers, references and calls apart', () => {
    const tokens = tokenizeRego('package rbac # the package\nallow if { input.n >= 10; x := sprintf("a \\"q\\" %d", [1]); y := `raw # not a comment` }\n');
    const of = (kind: string) => tokens.filter((token) => token.kind === kind).map((token) => token.text);
    expect(of('keyword')).toEqual(['package', 'if']);
    expect(of('comment')).toEqual(['# the package']);
    expect(of('string')).toEqual(['"a \\"q\\" %d"', '`raw # not a comment`']);
    expect(of('number')).toEqual(['10', '1']);
    expect(of('constant')).toEqual(['input.n']);
    expect(of('builtin')).toEqual(['sprintf']);
    expect(of('variable')).toEqual(['rbac', 'allow', 'x', 'y']);
  });

  test('an unterminated string ends the highlighting without losing text', () => {
    const source = 'x := "open\ny := 1';
    expect(tokenizeRego(source).map((token) => token.text).join('')).toBe(source);
  });
});

describe('the patch reader', () => {
  test('numbers old and new lines per file and counts additions and deletions', () => {
    const patch = [
      'diff --git a/rbac/extra.rego b/rbac/extra.rego',
      'index 1111111..2222222 100644',
      '--- a/rbac/extra.rego',
      '+++ b/rbac/extra.rego',
      '@@ -10,3 +10,3 @@ enabled if',
      ' a',
      '-limits := 10',
      '+limits := 25',
      ' b',
      'diff --git a/new.json b/new.json',
      'new file mode 100644',
      'index 0000000..3333333',
      '--- /dev/null',
      '+++ b/new.json',
      '@@ -0,0 +1 @@',
      '+{}',
      '\\ No newline at end of file',
      '',
    ].join('\n');
    const [extra, added] = parsePatch(patch);
    expect(extra).toMatchObject({ path: 'rbac/extra.rego', added: 1, removed: 1, notes: [] });
    expect(extra!.lines.map((line) => [line.kind, line.oldLine, line.newLine, line.text])).toEqual([
      ['hunk', undefined, undefined, '@@ -10,3 +10,3 @@ enabled if'],
      ['context', 10, 10, 'a'], ['del', 11, undefined, 'limits := 10'], ['add', undefined, 11, 'limits := 25'], ['context', 12, 12, 'b'],
    ]);
    expect(added).toMatchObject({ path: 'new.json', added: 1, removed: 0, notes: ['new file mode 100644'] });
    expect(added!.lines.at(-1)).toEqual({ kind: 'meta', text: '\\ No newline at end of file' });
  });

  test('an empty patch has no files', () => {
    expect(parsePatch('')).toEqual([]);
  });
});

describe('the convergence curve', () => {
  const published = Date.parse('2026-01-01T00:00:00.000Z');
  const agent = (id: string, revision: string | undefined, activatedAfterMs?: number, extra: Partial<AgentView> = {}): AgentView => ({
    agentId: id,
    bundles: [{ name: 'rbac', activeRevision: revision, lastSuccessfulActivation: activatedAfterMs === undefined ? undefined : new Date(published + activatedAfterMs).toISOString() }],
    ...extra,
  });

  test('counts agents on the served revision by when they activated it, with the 50/90/100% times', () => {
    const agents = [agent('a', 'new', 300), agent('b', 'new', 100), agent('c', 'old', 50), agent('d', 'new', 900), agent('s', 'new', 10, { stale: true })];
    const curve = convergenceCurve(agents, 'rbac', 'new', published);
    expect(curve).toEqual({ total: 4, points: [{ atMs: 100, agents: 1 }, { atMs: 300, agents: 2 }, { atMs: 900, agents: 3 }], p50: 300, p90: undefined, p100: undefined });
    const done = convergenceCurve([...agents.slice(0, 2), agent('d', 'new', 900)], 'rbac', 'new', published);
    expect(done).toMatchObject({ total: 3, p50: 300, p90: 900, p100: 900 });
  });

  test('an agent that activated before Regent published (a restart) counts from zero', () => {
    expect(convergenceCurve([agent('a', 'new', -5000)], 'rbac', 'new', published).points).toEqual([{ atMs: 0, agents: 1 }]);
  });

  test("reads Regent's own 50/90/100% figures from a bundle summary when it has them", () => {
    expect(reportedMilestones({ name: 'rbac', agents: 3, convergenceMs: 900 })).toBeUndefined();
    expect(reportedMilestones({ name: 'rbac', p50Ms: 10, p90Ms: 20, p100Ms: 30 })).toEqual({ p50: 10, p90: 20, p100: 30 });
    expect(reportedMilestones({ convergence: { revision: 'x', timeTo50PercentMs: 1, timeTo90PercentMs: 2 } })).toEqual({ p50: 1, p90: 2 });
  });
});
