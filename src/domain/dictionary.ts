/**
 * A null-prototype object built from entries. Keys that come from outside (a status report's labels,
 * bundle names, revisions) are data: `__proto__`, `constructor` or `toString` become own properties
 * like any other key, never the object's prototype or an inherited member, and JSON.stringify shows
 * them as they are.
 */
export function dictionary<V>(entries: Iterable<readonly [string, V]> = []): Record<string, V> {
  const out = Object.create(null) as Record<string, V>;
  for (const [key, value] of entries) out[key] = value;
  return out;
}
