import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SignatureCache } from '../domain/bundles/bundle-signer.js';

const MAX_ENTRIES = 2000;

/**
 * Remembers signatures by payload digest in a JSON-lines file, so that randomized signature schemes
 * (ES*, PS*) still give byte-identical bundles, and the same ETags, after a restart. Deterministic
 * schemes (RS*, HS*) do not need it. Compacted to the newest entries on open.
 */
export class FileSignatureCache implements SignatureCache {
  private readonly entries = new Map<string, string>();

  private constructor(private readonly path: string) {}

  static open(path: string): FileSignatureCache {
    const cache = new FileSignatureCache(path);
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const { k, v } = JSON.parse(line) as { k: string; v: string };
          if (typeof k === 'string' && typeof v === 'string') cache.entries.set(k, v);
        } catch {
          // A torn last line after a crash: skip it.
        }
      }
      const kept = [...cache.entries].slice(-MAX_ENTRIES);
      cache.entries.clear();
      for (const [k, v] of kept) cache.entries.set(k, v);
      writeFileSync(path, kept.map(([k, v]) => `${JSON.stringify({ k, v })}\n`).join(''), { mode: 0o600 });
    }
    return cache;
  }

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  set(key: string, jws: string): void {
    if (this.entries.get(key) === jws) return;
    this.entries.set(key, jws);
    appendFileSync(this.path, `${JSON.stringify({ k: key, v: jws })}\n`, { mode: 0o600 });
  }
}
