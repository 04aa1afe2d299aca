import { AUDIT_ACTIONS, type AuditAction, type AuditRecord } from '../domain/audit/audit-log.js';

/**
 * What {@link AuditLogIndex.find} filters on, already validated: times in epoch milliseconds, `path` without a
 * trailing `/`.
 */
export interface AuditIndexQuery {
  subject?: string;
  /** A file (exact match) or a directory (every path under it). */
  path?: string;
  action?: AuditAction;
  sinceMs?: number;
  untilMs?: number;
  /** Only records with `seq < before`. */
  before?: number;
}

/** Where one record's line is in the file. */
export interface AuditLineLocation {
  seq: number;
  offset: number;
  length: number;
}

type NumberArray = Float64Array | Uint32Array | Uint8Array;

/** A growable typed array: 1–8 bytes per record instead of a JS object per record. */
class Column {
  private data: NumberArray;
  length = 0;

  constructor(private readonly make: (size: number) => NumberArray) {
    this.data = make(1024);
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = this.make(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length] = value;
    this.length += 1;
  }

  at(index: number): number {
    return this.data[index] ?? 0;
  }
}

/** Strings seen many times (subjects, paths) stored once; ids start at 1 so 0 can mean "none". */
class Interner {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [''];

  intern(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(value, id);
    }
    return id;
  }

  lookup(value: string): number | undefined {
    return this.ids.get(value);
  }
}

const float64 = (size: number) => new Float64Array(size);
const uint32 = (size: number) => new Uint32Array(size);
const uint8 = (size: number) => new Uint8Array(size);

/**
 * An in-memory index of the audit file: per record only what queries filter on plus the line's offset
 * and length (about 40 bytes a record, so a million records cost tens of MB), never the record itself:
 * matching records are read back from the file. Positions are file order, oldest first.
 */
export class AuditLogIndex {
  private readonly seq = new Column(float64);
  private readonly offset = new Column(float64);
  private readonly length = new Column(uint32);
  private readonly atMs = new Column(float64);
  private readonly action = new Column(uint8);
  private readonly subject = new Column(uint32);
  private readonly pathStart = new Column(uint32);
  private readonly pathCount = new Column(uint32);
  private readonly pathRefs = new Column(uint32);
  private readonly subjects = new Interner();
  private readonly paths = new Interner();

  get count(): number {
    return this.seq.length;
  }

  add(record: AuditRecord, offset: number, length: number): void {
    this.seq.push(record.seq);
    this.offset.push(offset);
    this.length.push(length);
    this.atMs.push(Date.parse(record.at));
    this.action.push(AUDIT_ACTIONS.indexOf(record.action) + 1);
    this.subject.push(record.subject === undefined ? 0 : this.subjects.intern(record.subject));
    this.pathStart.push(this.pathRefs.length);
    this.pathCount.push(record.paths?.length ?? 0);
    for (const path of record.paths ?? []) this.pathRefs.push(this.paths.intern(path));
  }

  location(position: number): AuditLineLocation {
    return { seq: this.seq.at(position), offset: this.offset.at(position), length: this.length.at(position) };
  }

  /** Positions of matching records, newest first, at most `max`. */
  find(query: AuditIndexQuery, max: number): number[] {
    const matches: number[] = [];
    const subject = query.subject === undefined ? 0 : this.subjects.lookup(query.subject);
    const action = query.action === undefined ? 0 : AUDIT_ACTIONS.indexOf(query.action) + 1;
    const pathIds = query.path === undefined ? undefined : this.pathIdsUnder(query.path);
    if (subject === undefined || pathIds?.size === 0) return matches;
    for (let position = this.count - 1; position >= 0 && matches.length < max; position -= 1) {
      if (query.before !== undefined && this.seq.at(position) >= query.before) continue;
      if (action !== 0 && this.action.at(position) !== action) continue;
      if (subject !== 0 && this.subject.at(position) !== subject) continue;
      const at = this.atMs.at(position);
      if (query.sinceMs !== undefined && at < query.sinceMs) continue;
      if (query.untilMs !== undefined && at > query.untilMs) continue;
      if (pathIds !== undefined && !this.touchesAny(position, pathIds)) continue;
      matches.push(position);
    }
    return matches;
  }

  /** Ids of every known path equal to `path` or under it as a directory (`team` matches `team/a.rego`, not `teams/`). */
  private pathIdsUnder(path: string): Set<number> {
    const ids = new Set<number>();
    const prefix = `${path}/`;
    this.paths.values.forEach((value, id) => {
      if (id > 0 && (value === path || value.startsWith(prefix))) ids.add(id);
    });
    return ids;
  }

  private touchesAny(position: number, pathIds: ReadonlySet<number>): boolean {
    const start = this.pathStart.at(position);
    const end = start + this.pathCount.at(position);
    for (let ref = start; ref < end; ref += 1) {
      if (pathIds.has(this.pathRefs.at(ref))) return true;
    }
    return false;
  }
}
