/**
 * A deterministic, realistic-looking policy repository for the benchmarks: `modules` services, each a
 * small Rego module `svc/sNNNN/policy.rego` (`package svc.sNNNN`) deciding API access from shared
 * directory data, every `testEvery`-th with a passing `policy_test.rego`, plus JSON data split over a
 * few `svc/shared/<name>/data.json` files, and a `regent.yaml` with one bundle (roots: [svc]).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface GeneratedRepo {
  modules: number;
  tests: number;
  dataFiles: Array<{ path: string; bytes: number }>;
  regoBytes: number;
  /** Repository paths of every file written. */
  files: string[];
}

export interface GenerateOptions {
  modules: number;
  /** Total raw JSON bytes over all data files (pretty-printed, as people write them). */
  dataBytes: number;
  /** Every n-th service gets a test file; 0 for none. */
  testEvery: number;
  /** Bundle name in regent.yaml. */
  bundle?: string;
  /** Extra regent.yaml bundle entries (already indented YAML), e.g. the example's rbac and datasets. */
  extraBundlesYaml?: string;
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const serviceId = (i: number): string => `s${String(i).padStart(4, '0')}`;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const ROLES = ['reader', 'writer', 'operator', 'auditor', 'owner'];
export const USER_COUNT = 20_000;
export const TEAM_COUNT = 400;

export function moduleText(i: number, variant = 0): string {
  const id = serviceId(i);
  const random = prng(i * 7919 + 17);
  const owners = [1, 2].map(() => `"team-${Math.floor(random() * TEAM_COUNT)}"`).join(', ');
  const readOnly = METHODS.slice(0, 1 + Math.floor(random() * 2)).map((m) => `"${m}"`).join(', ');
  const maxRequests = 100 + Math.floor(random() * 900) + variant;
  return `# METADATA
# title: Access to service ${id}
# description: Who may call which endpoint of ${id}; data in data.svc.shared.
package svc.${id}

service := "${id}"

default allow := false

owners := {${owners}}

read_methods := {${readOnly}}

max_requests_per_minute := ${maxRequests}

user := data.svc.shared.users[input.subject]

# Owners' teams may do anything.
allow if {
	user.active
	some team in user.teams
	team in owners
}

# Everyone else needs a role granting the endpoint for the method.
allow if {
	user.active
	some role in user.roles
	some grant in data.svc.shared.grants[service][role]
	input.method in grant.methods
	glob.match(grant.path, ["/"], input.path)
	not rate_limited
}

# Read-only calls to public endpoints.
allow if {
	input.method in read_methods
	some endpoint in data.svc.shared.resources[service].public
	startswith(input.path, endpoint)
}

rate_limited if input.requests_last_minute > max_requests_per_minute

reasons contains sprintf("unknown subject %q", [input.subject]) if not user

reasons contains sprintf("subject %q is inactive", [input.subject]) if {
	user
	not user.active
}

reasons contains "rate limited" if rate_limited
`;
}

function testText(i: number): string {
  const id = serviceId(i);
  return `package svc.${id}

owner_team := [team | some team in owners][0]

test_unknown_subject_denied if {
	not allow with input as {"subject": "nobody", "method": "DELETE", "path": "/nothing/here"}
}

test_owner_team_allowed if {
	allow with input as {"subject": "u", "method": "DELETE", "path": "/x"}
		with data.svc.shared.users as {"u": {"active": true, "roles": [], "teams": [owner_team]}}
}

test_inactive_owner_denied if {
	not allow with input as {"subject": "u", "method": "DELETE", "path": "/x"}
		with data.svc.shared.users as {"u": {"active": false, "roles": [], "teams": [owner_team]}}
		with data.svc.shared.resources as {}
}

test_reasons_name_unknown_subject if {
	reasons == {"unknown subject \\"nobody\\""} with input as {"subject": "nobody", "method": "GET", "path": "/"}
}
`;
}

/** Builds one data document by adding entries until it reaches `targetBytes` pretty-printed. */
function dataDocument(targetBytes: number, entry: (n: number) => [string, unknown]): string {
  const parts: string[] = [];
  let size = 4;
  for (let n = 0; size < targetBytes; n++) {
    const [key, value] = entry(n);
    const text = `  ${JSON.stringify(key)}: ${JSON.stringify(value, null, 2).replace(/\n/g, '\n  ')}`;
    parts.push(text);
    size += text.length + 2;
  }
  return `{\n${parts.join(',\n')}\n}\n`;
}

export function generateRepo(root: string, options: GenerateOptions): GeneratedRepo {
  const files: string[] = [];
  const write = (path: string, text: string): number => {
    const target = join(root, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    files.push(path);
    return Buffer.byteLength(text);
  };
  const bundle = options.bundle ?? 'svc';
  write('regent.yaml', `bundles:\n  ${bundle}:\n    paths: [svc]\n    roots: [svc]\n    metadata:\n      description: Generated benchmark services\n${options.extraBundlesYaml ?? ''}`);
  write('README.md', 'Generated by bench/lib/generate-repo.ts.\n');

  let regoBytes = 0;
  let tests = 0;
  for (let i = 1; i <= options.modules; i++) {
    regoBytes += write(`svc/${serviceId(i)}/policy.rego`, moduleText(i));
    if (options.testEvery > 0 && i % options.testEvery === 0) {
      regoBytes += write(`svc/${serviceId(i)}/policy_test.rego`, testText(i));
      tests++;
    }
  }

  const random = prng(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const shares = [
    { name: 'users', share: 0.4, entry: (n: number): [string, unknown] => [`u${String(n).padStart(6, '0')}`, {
      name: `User ${n}`,
      email: `user${n}@example.com`,
      active: random() > 0.05,
      teams: [`team-${Math.floor(random() * TEAM_COUNT)}`, `team-${Math.floor(random() * TEAM_COUNT)}`],
      roles: [pick(ROLES), pick(ROLES)],
      employee_id: hex(12),
      cost_center: `cc-${Math.floor(random() * 200)}`,
    }] },
    { name: 'grants', share: 0.3, entry: (n: number): [string, unknown] => [serviceId((n % Math.max(1, options.modules)) + 1) + (n >= options.modules ? `-v${Math.floor(n / options.modules)}` : ''),
      Object.fromEntries(ROLES.map((role) => [role, Array.from({ length: 3 }, () => ({ path: `/api/${hex(4)}/*`, methods: METHODS.slice(0, 1 + Math.floor(random() * 5)) }))]))] },
    { name: 'resources', share: 0.2, entry: (n: number): [string, unknown] => [serviceId((n % Math.max(1, options.modules)) + 1) + (n >= options.modules ? `-v${Math.floor(n / options.modules)}` : ''), {
      public: [`/public/${hex(6)}`, `/health`],
      tier: pick(['gold', 'silver', 'bronze']),
      owner: `team-${Math.floor(random() * TEAM_COUNT)}`,
      tags: Array.from({ length: 4 }, () => hex(6)),
    }] },
    { name: 'teams', share: 0.1, entry: (n: number): [string, unknown] => [`team-${n}`, {
      name: `Team ${n}`,
      lead: `u${String(Math.floor(random() * USER_COUNT)).padStart(6, '0')}`,
      members: Array.from({ length: 20 }, () => `u${String(Math.floor(random() * USER_COUNT)).padStart(6, '0')}`),
    }] },
  ];
  const dataFiles: GeneratedRepo['dataFiles'] = [];
  if (options.dataBytes > 0) {
    for (const { name, share, entry } of shares) {
      const path = `svc/shared/${name}/data.json`;
      dataFiles.push({ path, bytes: write(path, dataDocument(options.dataBytes * share, entry)) });
    }
  }
  return { modules: options.modules, tests, dataFiles, regoBytes, files };
}
