/**
 * Remembers, by SHA-256 of their bytes, structured files (data.json, .manifest) already known to be in
 * canonical JSON form, so their OPA digest is the SHA-256 of the bytes themselves. The builder ships data
 * canonically and says so; the verifier then skips re-canonicalizing megabytes it has just produced
 * (canonicalization is a pure, idempotent function: same bytes, same answer). Only a positive fact is
 * stored: a file that is not canonical is always canonicalized. Bounded: the oldest entries go first.
 */
export class CanonicalFormMemo {
  private readonly known = new Set<string>();

  constructor(private readonly maxEntries = 16_384) {}

  /** Records that the bytes whose lower-hex SHA-256 is `sha256` are canonical JSON. */
  remember(sha256: string): void {
    this.known.delete(sha256);
    this.known.add(sha256);
    if (this.known.size > this.maxEntries) this.known.delete(this.known.values().next().value as string);
  }

  has(sha256: string): boolean {
    return this.known.has(sha256);
  }
}
