import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PolicyEvaluator } from '../../src/domain/policies/policy-inspector.js';
import { denyReason, type ConditionValue, type PolicySpec, type SpecDenyRule, type SpecRole } from '../../src/domain/specs/policy-spec.js';
import { patternProblem } from '../../src/domain/specs/resource-pattern.js';
import { SpecCompiler } from '../../src/domain/specs/spec-compiler.js';
import { byUtf8, decideSpec } from '../../src/domain/specs/spec-semantics.js';
import { writeRestrictedCapabilities } from '../../src/opa/capabilities.js';
import { OpaPolicyEvaluator } from '../../src/opa/opa-policy-evaluator.js';
import { silentLogger } from '../helpers/git-repo.js';
import { realOpaCli } from '../helpers/opa-path.js';

/**
 * Role specs compiled to Rego and run by the real OPA (through the runner, many inputs in one `opa eval`),
 * against the spec's meaning stated directly in TypeScript (`decideSpec`).
 */
const compiler = SpecCompiler.create({ maxSpecBytes: 1 << 20 });
let evaluator: PolicyEvaluator;

/** Created in beforeAll (no per-test clean-up there), removed in afterAll. */
const dir = mkdtempSync(join(tmpdir(), 'regent-spec-opa-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const opa = await realOpaCli(silentLogger());
  evaluator = OpaPolicyEvaluator.create({ opa, capabilitiesPath: await writeRestrictedCapabilities(opa, dir), workDir: dir });
});

/** Compiles specs (path → YAML text) and asks OPA `data.<package>` for every input: one process. */
async function decideWithOpa(cases: ReadonlyArray<{ path: string; yaml: string; inputs: readonly unknown[] }>) {
  const files = cases.map(({ path, yaml }) => {
    const outcome = compiler.compile(path, Buffer.from(yaml));
    if (!outcome.module) throw new Error(`${path} does not compile: ${JSON.stringify(outcome.problems)}`);
    return { path: outcome.module.path, content: outcome.module.content };
  });
  const groups = cases.map(({ path, inputs }) => ({ query: `data.${path.replace(/\.policy\.yaml$/, '').split('/').join('.')}`, inputs }));
  const answers = await evaluator.evaluateBatch(files, groups);
  return answers.map((decisions) => decisions.map((decision) => {
    if (!decision.defined) throw new Error('the package is undefined');
    const { allow, reasons } = decision.result as { allow: boolean; reasons: string[] };
    return { allow, reasons };
  }));
}

const STELAR = `actions:
  - read: ["s3:GetObject"]
  - write: ["s3:PutObject"]
  - delete: ["s3:DeleteObject"]
roles:
  - name: "Data-Manager"
    permissions:
      - { action: "read", resource: "my-bucket/*" }
      - { action: "write", resource: "my-bucket/my-object-1.txt" }
      - { action: "delete", resource: "my-bucket/my-object-2.txt" }
  - name: "Data-Analyst"
    permissions:
      - { action: "read", resource: "my-bucket/my-object-3.txt" }
`;

const ask = (roles: unknown, action: unknown, resource: unknown, attributes: Record<string, unknown> = {}) => ({ subject: { roles, ...attributes }, action, resource });

describe('a compiled spec, run by real OPA', () => {
  test('the STELAR example: a Data-Analyst reads my-object-3.txt and nothing else; a Data-Manager reads the bucket, writes and deletes the named objects', async () => {
    const table: Array<[unknown, boolean]> = [
      [ask(['Data-Analyst'], 'read', 'my-bucket/my-object-3.txt'), true],
      [ask(['Data-Analyst'], 's3:GetObject', 'my-bucket/my-object-3.txt'), true],
      [ask(['Data-Analyst'], 'read', 'my-bucket/my-object-1.txt'), false],
      [ask(['Data-Analyst'], 'write', 'my-bucket/my-object-3.txt'), false],
      [ask(['Data-Manager'], 's3:GetObject', 'my-bucket/any/thing.csv'), true],
      [ask(['Data-Manager'], 'read', 'my-bucket-2/x'), false],
      [ask(['Data-Manager'], 'write', 'my-bucket/my-object-1.txt'), true],
      [ask(['Data-Manager'], 's3:PutObject', 'my-bucket/my-object-2.txt'), false],
      [ask(['Data-Manager'], 'delete', 'my-bucket/my-object-2.txt'), true],
      [ask(['Data-Manager'], 'delete', 'my-bucket/my-object-1.txt'), false],
      [ask([], 'read', 'my-bucket/my-object-3.txt'), false],
      [ask('Data-Manager', 'read', 'my-bucket/x'), false],
      [{ action: 'read', resource: 'my-bucket/x' }, false],
    ];
    const [answers] = await decideWithOpa([{ path: 'stelar/s3.policy.yaml', yaml: STELAR, inputs: table.map(([input]) => input) }]);
    expect(answers!.map((answer) => answer.allow)).toEqual(table.map(([, allow]) => allow));
    expect(answers![0]!.reasons).toEqual(['Data-Analyst may read my-bucket/my-object-3.txt']);
    expect(answers![2]!.reasons).toEqual(["no permission of the subject's roles grants this action on this resource"]);
  });

  test('only * and ? are special in resource patterns: . + [ { ( | ^ $ \\ are themselves', async () => {
    const patterns = ['b/a.txt', 'b/a+b', 'b/[ab]', 'b/{x,y}', 'b/(a|b)', 'b/^a$', 'b/a\\b', 'b/*.csv', 'b/file-?.txt', 'b/x*y*z'];
    const yaml = stringify({ actions: [{ read: [] }], roles: [{ name: 'R', permissions: patterns.map((resource) => ({ action: 'read', resource })) }] });
    const resources: Array<[string, boolean]> = [
      ['b/a.txt', true], ['b/aXtxt', false], ['b/a+b', true], ['b/aab', false], ['b/[ab]', true], ['b/a', false],
      ['b/{x,y}', true], ['b/x', false], ['b/(a|b)', true], ['b/b', false], ['b/^a$', true], ['b/a\\b', true], ['b/ab', false],
      ['b/dir/x.csv', true], ['b/x.csvz', false], ['b/xcsv', false], ['b/file-1.txt', true], ['b/file-12.txt', false], ['b/file-\n.txt', true],
      ['b/file-😀.txt', true], ['b/xyz', true], ['b/x/1/y/2/z', true], ['b/xzy', false], ['c/a.txt', false],
    ];
    const spec = compiler.read('t/p.policy.yaml', Buffer.from(yaml)).spec!;
    const inputs = resources.map(([resource]) => ask(['R'], 'read', resource));
    const [answers] = await decideWithOpa([{ path: 't/p.policy.yaml', yaml, inputs }]);
    expect(answers!.map((answer) => answer.allow)).toEqual(resources.map(([, allow]) => allow));
    expect(inputs.map((input) => decideSpec(spec, input).allow)).toEqual(resources.map(([, allow]) => allow));
  });

  test('conditions on subject attributes and deny rules that win over every grant', async () => {
    const yaml = `actions:
  - read: ["s3:GetObject"]
  - delete: ["s3:DeleteObject"]
roles:
  - name: Analyst
    permissions:
      - { action: read, resource: "b/*", when: { department: [sales, ops], clearance: 3 } }
  - name: Manager
    permissions:
      - { action: read, resource: "b/*" }
      - { action: delete, resource: "b/*" }
deny:
  - { roles: [Analyst], action: read, resource: "b/secret/*" }
  - { action: delete, resource: "b/audit/*", description: "audit records are kept" }
`;
    const table: Array<[unknown, boolean, string[]]> = [
      [ask(['Analyst'], 'read', 'b/x', { department: 'sales', clearance: 3 }), true, ['Analyst may read b/* when department is one of "sales", "ops" and clearance is 3']],
      [ask(['Analyst'], 'read', 'b/x', { department: 'hr', clearance: 3 }), false, ["no permission of the subject's roles grants this action on this resource"]],
      [ask(['Analyst'], 'read', 'b/x', { department: 'sales', clearance: '3' }), false, ["no permission of the subject's roles grants this action on this resource"]],
      [ask(['Analyst'], 'read', 'b/x', { department: 'sales' }), false, ["no permission of the subject's roles grants this action on this resource"]],
      [ask(['Analyst', 'Manager'], 'read', 'b/secret/k', { department: 'sales', clearance: 3 }), false, ['Analyst may not read b/secret/*']],
      [ask(['Manager'], 'read', 'b/secret/k'), true, ['Manager may read b/*']],
      [ask(['Manager'], 's3:DeleteObject', 'b/audit/2026'), false, ['audit records are kept']],
      [ask(['Nobody'], 'delete', 'b/audit/2026'), false, ['audit records are kept']],
    ];
    const spec = compiler.read('t/p.policy.yaml', Buffer.from(yaml)).spec!;
    const [answers] = await decideWithOpa([{ path: 't/p.policy.yaml', yaml, inputs: table.map(([input]) => input) }]);
    expect(answers).toEqual(table.map(([, allow, reasons]) => ({ allow, reasons })));
    expect(table.map(([input]) => decideSpec(spec, input))).toEqual(answers);
  });

  test('compiles deterministically: the same spec gives the same bytes', () => {
    const first = compiler.compile('stelar/s3.policy.yaml', Buffer.from(STELAR)).module!.content;
    const second = SpecCompiler.create({ maxSpecBytes: 1 << 20 }).compile('stelar/s3.policy.yaml', Buffer.from(STELAR)).module!.content;
    expect(second.equals(first)).toBe(true);
    expect(first.toString()).toMatch(/^# METADATA\n# title: "Role spec stelar\/s3.policy.yaml"\n/);
    expect(first.toString()).toContain('\n#   source: "stelar/s3.policy.yaml"\npackage stelar.s3\n');
  });
});

// ---- The property: for generated specs and inputs, OPA running the compiled Rego agrees with decideSpec.

const ROLE_NAMES = ['Data-Manager', 'Data-Analyst', 'A', 'r"q', 'b\\s', 'Ü😀', 'with space', 'x\u2028y'];
const ACTION_NAMES = ['read', 'write', 'delete', 's3:GetObject', 'x.y'];
const OPERATIONS = ['s3:GetObject', 's3:PutObject', 'op', 'read', 'é'];
const PATTERN_CHARS = ['a', 'b', '/', '*', '?', '.', '+', '[', ']', '{', '}', '\\', '(', ')', '|', '^', '$', '😀', 'é', '-'];
const FILL_CHARS = ['a', 'b', '/', '.', '+', '[', '😀', 'é', 'x', '\n'];
const ATTRIBUTES = ['department', 'level', 'admin', 'if'];
const VALUES: ConditionValue[] = ['sales', 'x y', '3', 3, 0, -1, true, false];
const DESCRIPTIONS = ['a "quoted" \\ back\nslash', 'ünïcødé 😀', '# not a comment: x', 'x\u2028y'];

const patternArb = fc.array(fc.constantFrom(...PATTERN_CHARS), { minLength: 1, maxLength: 7 }).map((chars) => chars.join('')).filter((pattern) => patternProblem(pattern) === undefined);
const whenArb = fc.uniqueArray(fc.constantFrom(...ATTRIBUTES), { maxLength: 2 }).chain((attributes) =>
  fc.tuple(...attributes.map((attribute) => fc.uniqueArray(fc.constantFrom(...VALUES), { minLength: 1, maxLength: 2 }).map((values) => ({ attribute, values })))));

interface GeneratedSpec {
  actions: Array<[string, string[]]>;
  roles: Array<{ name: string; permissions: Array<{ action: string; resource: string; when: Array<{ attribute: string; values: ConditionValue[] }>; description?: string }> }>;
  deny: Array<{ roles?: string[]; action: string; resource: string; when: Array<{ attribute: string; values: ConditionValue[] }>; description?: string }>;
  description?: string;
}

const specArb: fc.Arbitrary<GeneratedSpec> = fc.record({
  actionNames: fc.uniqueArray(fc.constantFrom(...ACTION_NAMES), { minLength: 1, maxLength: 4 }),
  roleNames: fc.uniqueArray(fc.constantFrom(...ROLE_NAMES), { maxLength: 4 }),
  description: fc.option(fc.constantFrom(...DESCRIPTIONS), { nil: undefined }),
}).chain(({ actionNames, roleNames, description }) => {
  const rule = fc.record({ action: fc.constantFrom(...actionNames), resource: patternArb, when: whenArb, description: fc.option(fc.constantFrom(...DESCRIPTIONS), { freq: 6, nil: undefined }) });
  return fc.record({
    actions: fc.tuple(...actionNames.map((name) => fc.subarray(OPERATIONS).map((operations): [string, string[]] => [name, operations]))),
    roles: fc.tuple(...roleNames.map((name) => fc.array(rule, { maxLength: 4 }).map((permissions) => ({ name, permissions })))),
    deny: fc.array(fc.tuple(rule, roleNames.length > 0 ? fc.option(fc.uniqueArray(fc.constantFrom(...roleNames), { minLength: 1, maxLength: 2 }), { nil: undefined }) : fc.constant(undefined))
      .map(([denied, roles]) => (roles === undefined ? denied : { ...denied, roles })), { maxLength: 2 }),
    description: fc.constant(description),
  });
});

/** The spec as a person would write it in YAML (the compiler reads it back). */
function toYaml(spec: GeneratedSpec): string {
  const rule = (r: GeneratedSpec['deny'][number]) => ({
    ...(r.roles ? { roles: r.roles } : {}), action: r.action, resource: r.resource,
    ...(r.when.length > 0 ? { when: Object.fromEntries(r.when.map((c) => [c.attribute, c.values.length === 1 ? c.values[0] : c.values])) } : {}),
    ...(r.description === undefined ? {} : { description: r.description }),
  });
  return stringify({
    ...(spec.description === undefined ? {} : { description: spec.description }),
    actions: spec.actions.map(([name, operations]) => ({ [name]: operations })),
    roles: spec.roles.map((role) => ({ name: role.name, permissions: role.permissions.map(rule) })),
    ...(spec.deny.length > 0 ? { deny: spec.deny.map(rule) } : {}),
  });
}

/** The spec built directly, not read from YAML: the reference does not go through the parser under test. */
function toPolicySpec(spec: GeneratedSpec, source: string): PolicySpec {
  const at = { line: 0, column: 0 };
  const rule = <T extends GeneratedSpec['deny'][number]>(r: T) => ({ ...r, ...at });
  return {
    source, package: [], actions: new Map(spec.actions),
    roles: spec.roles.map((role): SpecRole => ({ name: role.name, permissions: role.permissions.map(rule), ...at })),
    deny: spec.deny.map((r) => rule(r) as SpecDenyRule),
  };
}

/** Inputs near the spec: its roles, actions, operations and instances of its patterns, and some that are off. */
function inputsArb(spec: GeneratedSpec): fc.Arbitrary<unknown[]> {
  const patterns = [...spec.roles.flatMap((role) => role.permissions), ...spec.deny].map((rule) => rule.resource);
  const fill = fc.array(fc.constantFrom(...FILL_CHARS), { maxLength: 3 }).map((chars) => chars.join(''));
  const instance = (pattern: string) => fc.array(fill, { minLength: pattern.length, maxLength: pattern.length }).map((fills) =>
    Array.from(pattern).map((char, index) => (char === '*' ? fills[index] : char === '?' ? (Array.from(fills[index]!)[0] ?? 'z') : char)).join(''));
  const resource = fc.oneof(
    { weight: 6, arbitrary: patterns.length > 0 ? fc.constantFrom(...patterns).chain(instance) : fill },
    { weight: 2, arbitrary: fill },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(7, null, ['a']) },
  );
  const roles = fc.oneof(
    { weight: 8, arbitrary: fc.subarray([...spec.roles.map((role) => role.name), 'Nobody', 'Data-Analyst']) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('A', null, [1, 'A'], { A: 'A' }) },
  );
  const action = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...spec.actions.flatMap(([name, operations]) => [name, ...operations]), 'nope') },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(1, null) },
  );
  const attributes = fc.record(Object.fromEntries(ATTRIBUTES.map((attribute) => [attribute, fc.constantFrom<unknown>(...VALUES, 'other', 1.5, null)])), { requiredKeys: [] });
  const input = fc.tuple(roles, action, resource, attributes).map(([r, a, res, attrs]) => ({ subject: { ...attrs, roles: r }, action: a, resource: res }));
  // Aimed at one rule: a role that holds it, its action or an operation of it, an instance of its
  // pattern and attributes that meet its conditions, so that grants and deny rules do match.
  const rules = [
    ...spec.roles.flatMap((role) => role.permissions.map((rule) => ({ rule, roles: [role.name] }))),
    ...spec.deny.map((rule) => ({ rule, roles: rule.roles ?? [] })),
  ];
  const aimed = rules.length === 0 ? input : fc.constantFrom(...rules).chain(({ rule, roles: holders }) => fc.tuple(
    fc.subarray([...spec.roles.map((role) => role.name), 'Nobody']).map((others) => [...new Set([...holders, ...others])]),
    fc.constantFrom(rule.action, ...(spec.actions.find(([name]) => name === rule.action)?.[1] ?? [])),
    instance(rule.resource),
    fc.tuple(...rule.when.map((condition) => fc.constantFrom(...condition.values).map((value) => [condition.attribute, value] as const))),
  ).map(([r, a, res, attrs]) => ({ subject: { ...Object.fromEntries(attrs), roles: r }, action: a, resource: res })));
  return fc.array(fc.oneof({ weight: 12, arbitrary: aimed }, { weight: 8, arbitrary: input }, { weight: 1, arbitrary: fc.constantFrom<unknown>({}, 'x', { subject: ['A'] }) }), { minLength: 10, maxLength: 40 });
}

describe('the compiled Rego agrees with the spec (property, real OPA)', () => {
  test('for generated specs and inputs, OPA answers allow and reasons exactly as decideSpec does', async () => {
    const batch = fc.array(specArb.chain((spec) => inputsArb(spec).map((inputs) => ({ spec, inputs }))), { minLength: 1, maxLength: 4 });
    const seen = { allowed: 0, denied: 0, refusedByDenyRule: 0, byPattern: 0 };
    await fc.assert(fc.asyncProperty(batch, async (cases) => {
      const named = cases.map((one, index) => ({ ...one, path: `gen/s${index}.policy.yaml` }));
      const answers = await decideWithOpa(named.map(({ path, spec, inputs }) => ({ path, yaml: toYaml(spec), inputs })));
      named.forEach(({ path, spec, inputs }, index) => {
        const reference = toPolicySpec(spec, path);
        const expected = inputs.map((input) => decideSpec(reference, input));
        const denials = new Set(reference.deny.map(denyReason));
        for (const decision of expected) {
          if (decision.allow) seen.allowed++;
          else seen.denied++;
          if (decision.reasons.some((reason) => denials.has(reason))) seen.refusedByDenyRule++;
        }
        seen.byPattern += inputs.filter((input, at) => expected[at]!.allow && reference.roles.some((role) => role.permissions.some((p) => /[?*]/.test(p.resource)))).length;
        expect(answers[index]!.map((answer) => ({ allow: answer.allow, reasons: [...answer.reasons].sort(byUtf8) }))).toEqual(expected);
      });
    }), { numRuns: 30 });
    // The generators reach every kind of answer (a property that only ever saw denials would prove little).
    expect(seen.allowed).toBeGreaterThan(50);
    expect(seen.denied).toBeGreaterThan(50);
    expect(seen.byPattern).toBeGreaterThan(10);
    expect(seen.refusedByDenyRule).toBeGreaterThan(5);
  }, 120_000);
});
