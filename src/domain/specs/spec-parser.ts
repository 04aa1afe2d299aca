import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import type { GateProblem } from '../candidates/policy-gate.js';
import type { ConditionValue, PolicySpec, SpecDenyRule, SpecPermission, SpecPosition, SpecRole, SubjectCondition } from './policy-spec.js';
import { patternProblem } from './resource-pattern.js';
import { packageOfPath, parsePackage } from './spec-package.js';

/** A spec read from YAML, or every problem that stops it (file, line, column), in document order. */
export interface SpecParseResult {
  spec?: PolicySpec;
  problems: GateProblem[];
}

const MAX_PROBLEMS = 50;
const MAX_NAME = 200;
const ATTRIBUTE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const TOP_KEYS = ['package', 'description', 'actions', 'roles', 'deny'];
const ROLE_KEYS = ['name', 'description', 'permissions'];
const PERMISSION_KEYS = ['action', 'resource', 'when', 'description'];
const DENY_KEYS = ['roles', ...PERMISSION_KEYS];
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Reads a role spec. Every problem names the file, line and column: YAML syntax (`invalid_yaml`), wrong
 * types, unknown or missing keys (`invalid_policy_spec`), an action declared twice (`duplicate_action`),
 * a role declared twice (`duplicate_role`), a permission or deny rule naming an action or role the spec
 * does not declare (`unknown_action`, `unknown_role`), a resource pattern that cannot match
 * (`invalid_resource_pattern`), a package that is not under the spec's directory (`package_outside_directory`).
 */
export function parseSpec(source: string, text: string): SpecParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', schema: 'core', uniqueKeys: true, merge: false, prettyErrors: false, lineCounter: lines });
  const reader = new SpecReader(source, lines);
  for (const problem of [...doc.errors, ...doc.warnings]) {
    const at = problem.linePos?.[0] ?? lines.linePos(problem.pos[0]);
    reader.report('invalid_yaml', { line: at.line, column: at.col }, `invalid YAML: ${problem.message.split('\n')[0]}`);
  }
  if (reader.problems.length > 0) return { problems: reader.problems };
  const root = doc.contents as Node | null;
  if (!isMap(root)) {
    reader.fail(root, 'a spec is a mapping with actions and roles (and optionally package, description, deny)');
    return { problems: reader.problems };
  }
  const fields = reader.fields(root, TOP_KEYS, 'the spec');
  const packageNode = fields.get('package');
  const packageText = packageNode ? reader.string(packageNode, 'package') : undefined;
  const pkg = packageText === undefined ? packageOfPath(source) : parsePackage(packageText, source);
  if ('code' in pkg) reader.report(pkg.code, reader.at(packageNode ?? root), pkg.message);
  const descriptionNode = fields.get('description');
  const description = descriptionNode ? reader.string(descriptionNode, 'description', { max: 4000, multiline: true }) : undefined;
  const actions = reader.actions(reader.required(fields, 'actions', root));
  const roles = reader.roles(reader.required(fields, 'roles', root), actions);
  const denyNode = fields.get('deny');
  const deny = denyNode ? reader.denyRules(denyNode, actions, new Set(roles.map((role) => role.name))) : [];
  if (reader.problems.length > 0 || 'code' in pkg) return { problems: reader.problems };
  const spec: PolicySpec = { source, package: pkg.path, actions, roles, deny };
  if (packageNode) spec.packageAt = reader.at(packageNode);
  if (description !== undefined) spec.description = description;
  return { spec, problems: [] };
}

class SpecReader {
  readonly problems: GateProblem[] = [];

  constructor(private readonly file: string, private readonly lines: LineCounter) {}

  at(node: Node | null | undefined): SpecPosition {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  report(code: string, at: SpecPosition, message: string): void {
    if (this.problems.length >= MAX_PROBLEMS) return;
    this.problems.push({ code, message, file: this.file, line: at.line, column: at.column });
  }

  fail(node: Node | null | undefined, message: string, code = 'invalid_policy_spec'): undefined {
    this.report(code, this.at(node), message);
    return undefined;
  }

  /** The values of a mapping by key (null for a key without a value); unknown keys, aliases and empty values are problems. */
  fields(map: YAMLMap, allowed: readonly string[], what: string): Map<string, Node | null> {
    const out = new Map<string, Node | null>();
    for (const pair of map.items as Array<Pair<Node, Node | null>>) {
      const key = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined;
      if (key === undefined || !allowed.includes(key)) {
        this.fail(pair.key, `unknown key ${key === undefined ? '' : `'${key}' `}in ${what} (allowed: ${allowed.join(', ')})`);
        continue;
      }
      if (isAlias(pair.value)) {
        this.fail(pair.value, 'aliases are not allowed in a spec');
        continue;
      }
      out.set(key, pair.value);
      if (pair.value === null) this.fail(pair.key, `'${key}' has no value`);
    }
    return out;
  }

  /** A key that must be there: missing is a problem (a key without a value was reported already). */
  required(fields: Map<string, Node | null>, key: string, parent: Node): Node | undefined {
    if (!fields.has(key)) this.fail(parent, `'${key}' is missing`);
    return fields.get(key) ?? undefined;
  }

  string(node: Node, what: string, options: { max?: number; multiline?: boolean } = {}): string | undefined {
    if (!isScalar(node) || typeof node.value !== 'string') return this.fail(node, `${what} must be a string`);
    const value = node.value;
    const max = options.max ?? MAX_NAME;
    if (value.length === 0) return this.fail(node, `${what} must not be empty`);
    if (value.length > max) return this.fail(node, `${what} is longer than ${max} characters`);
    const control = options.multiline ? /[\u0000-\u0008\u000b-\u001f\u007f]/ : CONTROL; // eslint-disable-line no-control-regex
    if (control.test(value) || LONE_SURROGATE.test(value)) return this.fail(node, `${what} contains a control character or an unpaired surrogate`);
    return value;
  }

  list(node: Node | undefined, what: string): Node[] | undefined {
    if (node === undefined) return undefined;
    if (!isSeq(node)) return this.fail(node, `${what} must be a list`);
    const items = node.items as Array<Node | null>;
    return items.flatMap((item) => {
      if (item === null) return this.fail(node, `${what} has an empty entry`) ?? [];
      if (isAlias(item)) return this.fail(item, 'aliases are not allowed in a spec') ?? [];
      return [item];
    });
  }

  /** `actions: [{read: [s3:GetObject]}, ...]`: each entry names one action and the operations it stands for. */
  actions(node: Node | undefined): Map<string, string[]> {
    const actions = new Map<string, string[]>();
    for (const item of this.list(node, 'actions') ?? []) {
      if (!isMap(item) || item.items.length !== 1) {
        this.fail(item, "each entry of 'actions' maps one action name to the list of operations it stands for, e.g. '- read: [\"s3:GetObject\"]'");
        continue;
      }
      const pair = item.items[0] as Pair<Node, Node | null>;
      const name = this.string(pair.key, 'an action name');
      const operations = (this.list(pair.value ?? undefined, `the operations of action '${name ?? ''}'`) ?? []).map((op) => this.string(op, 'an operation'));
      if (pair.value === null) this.fail(pair.key, `action '${name ?? ''}' needs a list of operations (it may be empty)`);
      if (name === undefined) continue;
      if (actions.has(name)) {
        this.fail(pair.key, `action '${name}' is declared twice`, 'duplicate_action');
        continue;
      }
      actions.set(name, [...new Set(operations.filter((op): op is string => op !== undefined))]);
    }
    return actions;
  }

  roles(node: Node | undefined, actions: ReadonlyMap<string, string[]>): SpecRole[] {
    const roles: SpecRole[] = [];
    const seen = new Set<string>();
    for (const item of this.list(node, 'roles') ?? []) {
      if (!isMap(item)) {
        this.fail(item, 'each role is a mapping with a name and permissions');
        continue;
      }
      const fields = this.fields(item, ROLE_KEYS, 'a role');
      const nameNode = this.required(fields, 'name', item);
      const name = nameNode === undefined ? undefined : this.string(nameNode, 'a role name');
      const descriptionNode = fields.get('description');
      const description = descriptionNode ? this.string(descriptionNode, 'a role description', { max: 4000, multiline: true }) : undefined;
      const permissions = (this.list(this.required(fields, 'permissions', item), 'permissions') ?? [])
        .map((permission) => this.permission(permission, PERMISSION_KEYS, 'a permission', actions)?.permission)
        .filter((permission): permission is SpecPermission => permission !== undefined);
      if (name === undefined) continue;
      if (seen.has(name)) {
        this.fail(nameNode, `role '${name}' is declared twice`, 'duplicate_role');
        continue;
      }
      seen.add(name);
      roles.push({ name, permissions, ...this.at(item), ...(description === undefined ? {} : { description }) });
    }
    return roles;
  }

  denyRules(node: Node, actions: ReadonlyMap<string, string[]>, roles: ReadonlySet<string>): SpecDenyRule[] {
    const rules: SpecDenyRule[] = [];
    for (const item of this.list(node, 'deny') ?? []) {
      const read = this.permission(item, DENY_KEYS, 'a deny rule', actions);
      const rolesNode = read?.fields.get('roles');
      let names: Array<string | undefined> | undefined;
      if (rolesNode) {
        names = (this.list(rolesNode, "a deny rule's roles") ?? []).map((role) => {
          const name = this.string(role, 'a role name');
          if (name !== undefined && !roles.has(name)) this.fail(role, `role '${name}' is not declared under 'roles'`, 'unknown_role');
          return name;
        });
        if (names.length === 0) this.fail(rolesNode, "a deny rule's roles must name at least one role (leave 'roles' out to deny everyone)");
      }
      if (!read?.permission) continue;
      const rule: SpecDenyRule = read.permission;
      if (names) rule.roles = [...new Set(names.filter((name): name is string => name !== undefined))];
      rules.push(rule);
    }
    return rules;
  }

  private permission(item: Node, keys: readonly string[], what: string, actions: ReadonlyMap<string, string[]>): { permission?: SpecPermission; fields: Map<string, Node | null> } | undefined {
    if (!isMap(item)) return this.fail(item, `${what} is a mapping with an action and a resource`);
    const fields = this.fields(item, keys, what);
    const actionNode = this.required(fields, 'action', item);
    const action = actionNode === undefined ? undefined : this.string(actionNode, 'an action');
    if (action !== undefined && !actions.has(action)) {
      const known = [...actions.keys()];
      this.fail(actionNode, `action '${action}' is not declared under 'actions'${known.length > 0 ? ` (declared: ${known.slice(0, 10).join(', ')})` : ''}`, 'unknown_action');
    }
    const resourceNode = this.required(fields, 'resource', item);
    const resource = resourceNode === undefined ? undefined : this.string(resourceNode, 'a resource pattern', { max: 4096 });
    const problem = resource === undefined ? undefined : patternProblem(resource);
    if (problem) this.fail(resourceNode, `resource pattern '${resource!.slice(0, 100)}' ${problem}`, 'invalid_resource_pattern');
    const whenNode = fields.get('when');
    const when = whenNode ? this.conditions(whenNode) : [];
    const descriptionNode = fields.get('description');
    const description = descriptionNode ? this.string(descriptionNode, `the description of ${what}`, { max: 4000, multiline: true }) : undefined;
    if (action === undefined || resource === undefined || problem || !actions.has(action) || when === undefined) return { fields };
    return { fields, permission: { action, resource, when, ...this.at(item), ...(description === undefined ? {} : { description }) } };
  }

  /** `when: {department: sales, level: [1, 2]}`: subject attributes and the values they must have. */
  private conditions(node: Node): SubjectCondition[] | undefined {
    if (!isMap(node)) return this.fail(node, "'when' maps subject attributes to the value (or list of values) they must have");
    const conditions: SubjectCondition[] = [];
    let ok = true;
    for (const pair of node.items as Array<Pair<Node, Node | null>>) {
      const attribute = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined;
      if (attribute === undefined || !ATTRIBUTE.test(attribute) || attribute === 'roles') {
        ok = this.fail(pair.key, `'${attribute ?? ''}' is not a subject attribute name (letters, digits and '_', not starting with a digit; not 'roles')`) ?? false;
        continue;
      }
      if (pair.value === null || isAlias(pair.value)) {
        ok = this.fail(pair.value ?? pair.key, pair.value === null ? `'${attribute}' needs a value` : 'aliases are not allowed in a spec') ?? false;
        continue;
      }
      const valueNodes = isSeq(pair.value) ? (this.list(pair.value, `the values of '${attribute}'`) ?? []) : [pair.value];
      const values = valueNodes.map((value) => this.conditionValue(value, attribute));
      if (valueNodes.length === 0) ok = this.fail(pair.value, `'${attribute}' needs at least one value`) ?? false;
      if (values.some((value) => value === undefined)) ok = false;
      else conditions.push({ attribute, values: [...new Set(values as ConditionValue[])] });
    }
    return ok ? conditions : undefined;
  }

  private conditionValue(node: Node | null, attribute: string): ConditionValue | undefined {
    const value: unknown = isScalar(node) ? node.value : undefined;
    if (typeof value === 'string') return this.string(node!, `a value of '${attribute}'`, { max: 1024 });
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isSafeInteger(value))) return value;
    return this.fail(node, `a value of '${attribute}' must be a string, a whole number or true/false`);
  }
}
