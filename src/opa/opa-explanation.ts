import type { ExplainMode } from '../domain/policies/policy-inspector.js';

interface TraceEvent {
  Op?: unknown;
  QueryID?: unknown;
  ParentID?: unknown;
  Message?: unknown;
  Location?: { file?: unknown; row?: unknown };
}

/**
 * OPA's trace (`opa eval --explain <mode> --format json`) as lines a person reads, in the shape of OPA's
 * own pretty trace: `location  | | Op source`, indented by query depth, with the source line of the
 * module (or the query) the event is at, and the note's text for `trace()` notes.
 */
export function explanationOf(mode: ExplainMode, events: unknown, query: string, files: ReadonlyArray<{ path: string; content: Buffer }>): { mode: ExplainMode; lines: string[]; events: unknown[] } {
  const list = Array.isArray(events) ? (events as unknown[]) : [];
  const sources = new Map<string, string[]>();
  const sourceLine = (file: string, row: number): string => {
    let lines = sources.get(file);
    if (!lines) {
      const found = files.find((candidate) => candidate.path === file);
      lines = found ? found.content.toString('utf8').split('\n') : [];
      sources.set(file, lines);
    }
    return (lines[row - 1] ?? '').trim();
  };
  const depths = new Map<number, number>();
  const rows = list.map((raw) => {
    const event = (typeof raw === 'object' && raw !== null ? raw : {}) as TraceEvent;
    const queryId = typeof event.QueryID === 'number' ? event.QueryID : 0;
    const parentId = typeof event.ParentID === 'number' ? event.ParentID : 0;
    if (!depths.has(queryId)) depths.set(queryId, queryId === parentId ? 0 : (depths.get(parentId) ?? 0) + 1);
    const file = typeof event.Location?.file === 'string' ? event.Location.file.replace(/^\/+/, '') : '';
    const row = typeof event.Location?.row === 'number' ? event.Location.row : 0;
    const op = typeof event.Op === 'string' ? event.Op : '?';
    const text = op === 'Note' && typeof event.Message === 'string' ? event.Message : file === '' ? query : sourceLine(file, row);
    return { at: `${file === '' ? 'query' : file}:${row}`, text: `${'| '.repeat(depths.get(queryId)!)}${op} ${text}` };
  });
  const width = Math.max(0, ...rows.map((row) => row.at.length));
  return { mode, lines: rows.map((row) => `${row.at.padEnd(width)}  ${row.text}`.trimEnd()), events: list };
}
