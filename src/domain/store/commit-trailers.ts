/** A `Key: value` line from the end of a commit message, such as `Regent-Request-Id: 7f3a...`. */
export interface Trailer {
  key: string;
  value: string;
}

const TRAILER = /^([A-Za-z0-9][A-Za-z0-9-]{0,63}):[ \t]*(\S.*)$/;
const CONTINUATION = /^[ \t]+\S/;

/**
 * The trailers of a commit message: its last paragraph, when that is not also the first one (the
 * subject) and every line of it is `Key: value` or an indented continuation of the line before. This is
 * git's `interpret-trailers` rule without its 25 %-of-known-keys leniency.
 */
export function parseTrailers(message: string): Trailer[] {
  const lines = message.replace(/\s+$/, '').split(/\r?\n/);
  let start = lines.length;
  while (start > 0 && (lines[start - 1] ?? '').trim() !== '') start -= 1;
  if (start === 0 || start === lines.length) return [];
  const trailers: Trailer[] = [];
  for (const line of lines.slice(start)) {
    const match = TRAILER.exec(line);
    const last = trailers[trailers.length - 1];
    if (match) trailers.push({ key: match[1] ?? '', value: (match[2] ?? '').trimEnd() });
    else if (last && CONTINUATION.test(line)) last.value = `${last.value} ${line.trim()}`;
    else return [];
  }
  return trailers;
}


/** The value of the last trailer named `key` (case-insensitive, as git compares trailer keys). */
export function trailerValue(trailers: readonly Trailer[], key: string): string | undefined {
  const wanted = key.toLowerCase();
  for (let i = trailers.length - 1; i >= 0; i--) if (trailers[i]!.key.toLowerCase() === wanted) return trailers[i]!.value;
  return undefined;
}
