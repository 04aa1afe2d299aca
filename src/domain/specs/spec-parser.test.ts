import { describe, expect, test } from 'vitest';
import { parseSpec } from './spec-parser.js';

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

describe('parseSpec: the STELAR format', () => {
  test('reads actions, roles and permissions, with the package from the path and each rule\'s line', () => {
    const { spec, problems } = parseSpec('a/b/c.policy.yaml', STELAR);
    expect(problems).toEqual([]);
    expect(spec!.package).toEqual(['a', 'b', 'c']);
    expect([...spec!.actions]).toEqual([['read', ['s3:GetObject']], ['write', ['s3:PutObject']], ['delete', ['s3:DeleteObject']]]);
    expect(spec!.roles.map((role) => [role.name, role.line, role.permissions.map((p) => [p.action, p.resource, p.line, p.column])])).toEqual([
      ['Data-Manager', 6, [['read', 'my-bucket/*', 8, 9], ['write', 'my-bucket/my-object-1.txt', 9, 9], ['delete', 'my-bucket/my-object-2.txt', 10, 9]]],
      ['Data-Analyst', 11, [['read', 'my-bucket/my-object-3.txt', 13, 9]]],
    ]);
    expect(spec!.deny).toEqual([]);
  });

  test('reads the extensions: package, description, when conditions and deny rules', () => {
    const { spec, problems } = parseSpec('a/b/c.policy.yaml', `package: a.b.shared
description: |
  Two lines
  of text
actions:
  - read: []
roles:
  - name: R
    description: the reader
    permissions:
      - action: read
        resource: "x/*"
        when: { department: [sales, "x y"], level: 3, admin: true }
        description: R reads x
deny:
  - { action: read, resource: "x/secret/*" }
  - { roles: [R], action: read, resource: "x/y" }
`);
    expect(problems).toEqual([]);
    expect(spec).toMatchObject({
      package: ['a', 'b', 'shared'], packageAt: { line: 1, column: 10 }, description: 'Two lines\nof text\n',
      roles: [{ name: 'R', description: 'the reader', permissions: [{ action: 'read', resource: 'x/*', description: 'R reads x', when: [
        { attribute: 'department', values: ['sales', 'x y'] }, { attribute: 'level', values: [3] }, { attribute: 'admin', values: [true] },
      ] }] }],
      deny: [{ action: 'read', resource: 'x/secret/*', when: [] }, { roles: ['R'], action: 'read', resource: 'x/y' }],
    });
    expect(spec!.deny[0]!.roles).toBeUndefined();
  });
});

describe('parseSpec: every problem names its line and column', () => {
  test.each([
    ['a YAML syntax error', 'actions: [\nroles: []\n', 'invalid_yaml', 2, 1],
    ['a duplicate key', 'actions: []\nroles: []\nactions: []\n', 'invalid_yaml', 3, 1],
    ['a spec that is not a mapping', '- read\n', 'invalid_policy_spec', 1, 1],
    ['an unknown top-level key', 'actions: []\nroles: []\nrules: []\n', 'invalid_policy_spec', 3, 1],
    ['a missing roles key', 'actions: []\n', 'invalid_policy_spec', 1, 1],
    ['actions that are not a list', 'actions: {read: [a]}\nroles: []\n', 'invalid_policy_spec', 1, 10],
    ['an action entry naming two actions', 'actions:\n  - {read: [a], write: [b]}\nroles: []\n', 'invalid_policy_spec', 2, 5],
    ['operations that are not strings', 'actions:\n  - read: [1]\nroles: []\n', 'invalid_policy_spec', 2, 12],
    ['an action declared twice', 'actions:\n  - read: [a]\n  - read: [b]\nroles: []\n', 'duplicate_action', 3, 5],
    ['a role declared twice', 'actions: [{read: []}]\nroles:\n  - {name: R, permissions: []}\n  - {name: R, permissions: []}\n', 'duplicate_role', 4, 12],
    ['a role without a name', 'actions: [{read: []}]\nroles:\n  - permissions: []\n', 'invalid_policy_spec', 3, 5],
    ['a role name that is a number', 'actions: [{read: []}]\nroles:\n  - {name: 7, permissions: []}\n', 'invalid_policy_spec', 3, 12],
    ['an unknown key in a role', 'actions: [{read: []}]\nroles:\n  - {name: R, permissions: [], color: red}\n', 'invalid_policy_spec', 3, 32],
    ['an unknown action', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: fly, resource: "b/*"}\n', 'unknown_action', 5, 18],
    ['an unknown key in a permission', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: "b/*", effect: allow}\n', 'invalid_policy_spec', 5, 41],
    ['a permission without a resource', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read}\n', 'invalid_policy_spec', 5, 9],
    ['an empty resource pattern', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: ""}\n', 'invalid_policy_spec', 5, 34],
    ['a resource pattern starting with /', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: "/b/*"}\n', 'invalid_resource_pattern', 5, 34],
    ['a resource pattern with a line break', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: "b/\\n*"}\n', 'invalid_policy_spec', 5, 34],
    ['a resource that is a list', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: [a, b]}\n', 'invalid_policy_spec', 5, 34],
    ['a condition on roles', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: "b", when: {roles: x}}\n', 'invalid_policy_spec', 5, 46],
    ['a condition value that is a mapping', 'actions: [{read: []}]\nroles:\n  - name: R\n    permissions:\n      - {action: read, resource: "b", when: {dept: {a: 1}}}\n', 'invalid_policy_spec', 5, 52],
    ['a deny rule naming an undeclared role', 'actions: [{read: []}]\nroles: []\ndeny:\n  - {roles: [Ghost], action: read, resource: "b"}\n', 'unknown_role', 4, 14],
    ['a package outside the directory', 'package: other.x\nactions: []\nroles: []\n', 'package_outside_directory', 1, 10],
    ['a package that is not dotted names', 'package: a.b-c\nactions: []\nroles: []\n', 'invalid_policy_spec', 1, 10],
    ['an alias', 'actions: &a []\nroles: *a\n', 'invalid_policy_spec', 2, 8],
  ])('%s is %s at %i:%i', (_name, text, code, line, column) => {
    const { spec, problems } = parseSpec('a/b/c.policy.yaml', text);
    expect(spec).toBeUndefined();
    expect(problems[0]).toMatchObject({ code, file: 'a/b/c.policy.yaml', line, column });
  });

  test('reports every problem of a spec at once, in document order', () => {
    const { problems } = parseSpec('a/x.policy.yaml', 'actions:\n  - read: [a]\n  - read: [b]\nroles:\n  - {name: R, permissions: [{action: fly, resource: "b"}]}\n  - {name: R, permissions: []}\n');
    expect(problems.map((problem) => [problem.code, problem.line])).toEqual([['duplicate_action', 3], ['unknown_action', 5], ['duplicate_role', 6]]);
  });

  test('a spec in a directory that is not a Rego name needs no package to be refused: the path names it', () => {
    expect(parseSpec('2024/x.policy.yaml', 'actions: []\nroles: []\n').problems[0]).toMatchObject({ code: 'invalid_policy_spec', line: 1, column: 1 });
    expect(parseSpec('a/my-team/x.policy.yaml', 'actions: []\nroles: []\n').spec!.package).toEqual(['a', 'my-team', 'x']);
  });
});
