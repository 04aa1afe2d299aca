/** A unified patch (git's) cut into files and numbered lines, for display. Pure, tested without a browser. */
export type PatchLineKind = 'hunk' | 'add' | 'del' | 'context' | 'meta';

export interface PatchLine {
  kind: PatchLineKind;
  /** The line without its `+`/`-`/` ` marker (hunk and meta lines as they are). */
  text: string;
  oldLine?: number;
  newLine?: number;
}

export interface PatchFile {
  /** The file's path after the change (before it, for a deletion). */
  path: string;
  added: number;
  removed: number;
  /** `Binary files ... differ`, `new file mode ...`: what git says besides the lines. */
  notes: string[];
  lines: PatchLine[];
}

const FILE_HEADER = /^diff --git a\/(.*) b\/(.*)$/;
const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

export function parsePatch(patch: string): PatchFile[] {
  const files: PatchFile[] = [];
  let file: PatchFile | undefined;
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const line of patch.split('\n')) {
    const header = FILE_HEADER.exec(line);
    if (header) {
      file = { path: header[2]!, added: 0, removed: 0, notes: [], lines: [] };
      files.push(file);
      inHunk = false;
      continue;
    }
    if (!file) continue;
    const hunk = HUNK.exec(line);
    if (hunk) {
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      inHunk = true;
      file.lines.push({ kind: 'hunk', text: line });
      continue;
    }
    if (!inHunk) {
      if (line.startsWith('+++ ') || line.startsWith('--- ') || line.startsWith('index ')) continue;
      if (line.length > 0) file.notes.push(line);
      continue;
    }
    if (line.startsWith('+')) {
      file.lines.push({ kind: 'add', text: line.slice(1), newLine: newLine++ });
      file.added++;
    } else if (line.startsWith('-')) {
      file.lines.push({ kind: 'del', text: line.slice(1), oldLine: oldLine++ });
      file.removed++;
    } else if (line.startsWith(' ')) {
      file.lines.push({ kind: 'context', text: line.slice(1), oldLine: oldLine++, newLine: newLine++ });
    } else if (line.startsWith('\\')) {
      file.lines.push({ kind: 'meta', text: line });
    }
  }
  return files;
}
