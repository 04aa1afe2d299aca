import { BuildError } from '../errors.js';

/**
 * The package a Rego module declares, as data path segments (`package a.b["c-d"]` → `['a','b','c-d']`).
 * A lexical read of the first `package` statement, enough for the builder's ownership checks (roots,
 * package under its directory); the activation gate still has real OPA parse and compile every module.
 */
export function regoPackagePath(source: string, file: string): string[] {
  return regoPackage(source, file).path;
}

/** The package a module declares and where its `package` statement is (1-based line and column). */
export interface RegoPackage {
  path: string[];
  line: number;
  column: number;
}

/** Like {@link regoPackagePath}, with the position of the `package` statement, for errors that name it. */
export function regoPackage(source: string, file: string): RegoPackage {
  const lines = source.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const raw = stripComment(lines[index]!);
    const line = raw.trim();
    if (line === '') continue;
    const column = raw.length - raw.trimStart().length + 1;
    const match = /^package\s+(.+)$/.exec(line);
    if (!match) {
      throw new BuildError('invalid_rego', `${file}:${index + 1}: a module must start with a package declaration`, { file, line: index + 1, column });
    }
    return { path: parseRef(match[1]!.trim(), file, index + 1), line: index + 1, column };
  }
  throw new BuildError('invalid_rego', `${file}: no package declaration`, { file, line: 1 });
}

function stripComment(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"' && line[i - 1] !== '\\') inString = !inString;
    if (ch === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;

function parseRef(ref: string, file: string, line: number): string[] {
  const segments: string[] = [];
  let rest = ref;
  const bad = (): never => {
    throw new BuildError('invalid_rego', `${file}:${line}: cannot read package reference '${ref}'`, { file, line });
  };
  const head = IDENT.exec(rest);
  if (!head) bad();
  segments.push(head![0]);
  rest = rest.slice(head![0].length);
  while (rest.length > 0) {
    if (rest.startsWith('.')) {
      const ident = IDENT.exec(rest.slice(1));
      if (!ident) bad();
      segments.push(ident![0]);
      rest = rest.slice(1 + ident![0].length);
    } else if (rest.startsWith('["')) {
      const end = rest.indexOf('"]', 2);
      if (end < 0) bad();
      segments.push(JSON.parse(rest.slice(1, end + 1)) as string);
      rest = rest.slice(end + 2);
    } else {
      bad();
    }
  }
  // `package data.x` would be odd but is how OPA spells the same thing; drop the implicit root.
  return segments[0] === 'data' && segments.length > 1 ? segments.slice(1) : segments;
}
