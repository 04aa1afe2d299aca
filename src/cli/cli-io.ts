/** Where a command writes: stdout carries only its result (text, or JSON with `--json`); stderr the rest. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Reads all of stdin (for `-` as a file argument). */
  readStdin?: () => Promise<Buffer>;
}

/**
 * A command ran and the answer is "no": a bundle that does not verify, a change that does not validate,
 * a broken audit chain. Printed as `regent: <message>` on stderr; the process exits with `exitCode` (1).
 */
export class CommandFailure extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CommandFailure';
  }
}

/** Prints `value` as indented JSON on stdout (the `--json` form of every command). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** Rows as aligned columns (the last column is not padded); `headers` first when given. */
export function formatTable(rows: ReadonlyArray<readonly string[]>, headers?: readonly string[]): string {
  const all = headers ? [headers, ...rows] : [...rows];
  if (all.length === 0) return '';
  const widths = all[0]!.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return `${all.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n')}\n`;
}

/** The first 12 characters of a SHA, as people read them. */
export function shortSha(sha: unknown): string {
  return typeof sha === 'string' ? sha.slice(0, 12) : '-';
}

/** A byte count for people: `812 B`, `2.3 KiB`, `4.0 MiB`. */
export function formatBytes(bytes: unknown): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '-';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Progress of long work on stderr (`regent: <step>...`), so stdout stays the result. Quiet with
 * `--quiet`; a step that finishes says how long it took.
 */
export class Progress {
  constructor(private readonly io: CliIo, private readonly quiet: boolean) {}

  step(message: string): void {
    if (!this.quiet) this.io.stderr(`regent: ${message}...\n`);
  }

  async timed<T>(message: string, work: () => Promise<T>): Promise<T> {
    this.step(message);
    const started = performance.now();
    const result = await work();
    if (!this.quiet) this.io.stderr(`regent: ${message}: done in ${Math.round(performance.now() - started)} ms\n`);
    return result;
  }
}
