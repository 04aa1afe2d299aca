/** A Bloom filter as stored in a segment's index: `bits` base64, `m` bits, `k` hash functions. */
export interface BloomFilterData {
  m: number;
  k: number;
  bits: string;
}

const BITS_PER_ITEM = 10;
const HASHES = 7;

/**
 * Builds a Bloom filter of about 1% false positives over `hashes` (pairs from {@link hashPair}): "certainly
 * not here" for a `decision_id` lookup, so a query by id opens only the segments that may hold it.
 */
export function buildBloomFilter(hashes: Iterable<readonly [number, number]>, count: number): BloomFilterData {
  const m = Math.max(1024, Math.ceil((count * BITS_PER_ITEM) / 8) * 8);
  const bits = new Uint8Array(m / 8);
  for (const [h1, h2] of hashes) {
    for (let i = 0; i < HASHES; i++) {
      const bit = (h1 + Math.imul(i, h2) >>> 0) % m;
      bits[bit >>> 3]! |= 1 << (bit & 7);
    }
  }
  return { m, k: HASHES, bits: Buffer.from(bits).toString('base64') };
}

/** False when the filter certainly does not hold the item; true when it may. */
export function bloomMayContain(filter: BloomFilterData, [h1, h2]: readonly [number, number]): boolean {
  const bits = Buffer.from(filter.bits, 'base64');
  if (bits.length * 8 !== filter.m) return true;
  for (let i = 0; i < filter.k; i++) {
    const bit = (h1 + Math.imul(i, h2) >>> 0) % filter.m;
    if ((bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

/** Two independent 32-bit FNV-1a hashes of `text` (different offset bases), for double hashing. */
export function hashPair(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193) >>> 0;
    b = Math.imul(b ^ code, 0x5bd1e995) >>> 0;
    b ^= b >>> 15;
  }
  return [a >>> 0, (b | 1) >>> 0];
}
