import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { generateSigningKey } from '../../src/domain/bundles/signing-key.js';
import { readTarball } from '../../src/domain/bundles/tarball-reader.js';
import { spawnTypeScript } from '../helpers/node-process.js';
import { agentOptionsFor, startOpaAgent } from '../helpers/opa-agent.js';
import { EXAMPLE_POLICIES, startTestRegent } from '../helpers/start-regent.js';
import { tempDirForTest } from '../helpers/temp-dir.js';

interface ProcessBuild {
  name: string;
  etag: string;
  tarball: string;
}

async function buildInProcess(dir: string, keyFile: string): Promise<ProcessBuild[]> {
  const child = spawnTypeScript(join(import.meta.dirname, '..', 'helpers', 'build-bundles-process.ts'), [dir, keyFile, 'bytes-key']);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`build process exited with ${code}: ${stderr}`);
  return JSON.parse(stdout) as ProcessBuild[];
}

/**
 * True when `tarball` is exactly one gzip member: the raw deflate stream after the 10-byte header
 * decodes to everything (an inflater stops at the end of the first member and ignores the rest), and
 * the last 8 bytes are that member's CRC-32 and length.
 */
function isOneGzipMember(tarball: Buffer): boolean {
  const tar = gunzipSync(tarball);
  const first = inflateRawSync(tarball.subarray(10, tarball.length - 8));
  const trailer = tarball.subarray(tarball.length - 8);
  return first.equals(tar) && trailer.readUInt32LE(0) === crc32(tar) && trailer.readUInt32LE(4) === tar.length;
}

describe('bundle bytes', () => {
  test('two builders in two processes build the same bytes and ETags from the same tree and key', async () => {
    const dir = tempDirForTest('regent-bytes-');
    const generated = generateSigningKey('bytes-key', 'RS256');
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, generated.privateKeyPem, { mode: 0o600 });
    const [first, second] = await Promise.all([buildInProcess(EXAMPLE_POLICIES, keyFile), buildInProcess(EXAMPLE_POLICIES, keyFile)]);
    expect(first!.map((bundle) => bundle.name)).toEqual(['rbac', 'datasets', 'discovery', 'stelar']);
    expect(second).toEqual(first);
    for (const bundle of first!) expect(isOneGzipMember(Buffer.from(bundle.tarball, 'base64'))).toBe(true);
  });

  test('what a real agent pulls, verifies and activates is one gzip member, files in byte order then .manifest and .signatures.json', async () => {
    const regent = await startTestRegent();
    const agent = await startOpaAgent({ ...agentOptionsFor(regent), longPollSeconds: undefined, minDelaySeconds: 1, maxDelaySeconds: 2 });
    await agent.waitUntilReady();
    const head = await regent.store.head();
    for (const name of ['rbac', 'datasets']) {
      expect(await agent.activeRevision(name)).toBe(head);
      const tarball = Buffer.from(await (await fetch(`${regent.url}/bundles/${name}`)).arrayBuffer());
      expect(isOneGzipMember(tarball)).toBe(true);
      expect((await readTarball(tarball)).map((file) => file.name)).toEqual([`/${name}/data.json`, `/${name}/policy.rego`, '/.manifest', '/.signatures.json']);
    }
  });
});
