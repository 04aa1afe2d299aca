import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RegentConfig } from '../config/schema.js';
import { InputError } from '../domain/errors.js';
import type { RemoteTls } from '../git/remote-credentials.js';

/** A CA bundle larger than this is not a CA bundle (the whole Mozilla store is about 220 KB). */
const MAX_PEM_BYTES = 4 * 1024 * 1024;
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_BLOCK = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----/;

/**
 * Checks `remote.caFile`, `remote.clientCertFile` and `remote.clientKeyFile` at start-up and turns them into
 * what git is given: every file must exist, be readable and hold PEM that parses (certificates, an
 * unencrypted private key matching the certificate, the key file mode 0600). With a CA file, an empty
 * directory `<dataDir>/remote-tls/empty-ca-dir` is made for `http.sslCAPath`, so libcurl's compiled-in CA
 * directory is not read either. Undefined when none is set. Throws `InputError` `invalid_remote_tls` (or
 * `insecure_key_file`) naming the key.
 */
export function loadRemoteTls(settings: Readonly<RegentConfig['remote']>, dataDir: string, url: string): RemoteTls | undefined {
  const { caFile, clientCertFile, clientKeyFile } = settings;
  if (caFile === undefined && clientCertFile === undefined && clientKeyFile === undefined) return undefined;
  const field = caFile !== undefined ? 'remote.caFile' : 'remote.clientCertFile';
  if (!url.startsWith('https://')) throw new InputError('invalid_remote_tls', `${field} applies to https:// remotes only; remote.url is not one`, { field });
  if ((clientCertFile === undefined) !== (clientKeyFile === undefined)) {
    const missing = clientCertFile === undefined ? 'remote.clientCertFile' : 'remote.clientKeyFile';
    throw new InputError('invalid_remote_tls', `a client certificate needs both remote.clientCertFile and remote.clientKeyFile; ${missing} is not set`, { field: missing });
  }
  const tls: RemoteTls = {};
  if (caFile !== undefined) {
    tls.caFile = resolve(caFile);
    readCertificates(tls.caFile, 'remote.caFile');
    tls.emptyCaDir = emptyDirectory(join(dataDir, 'remote-tls', 'empty-ca-dir'));
  }
  if (clientCertFile !== undefined && clientKeyFile !== undefined) {
    tls.clientCertFile = resolve(clientCertFile);
    tls.clientKeyFile = resolve(clientKeyFile);
    const [certificate] = readCertificates(tls.clientCertFile, 'remote.clientCertFile');
    const key = readPrivateKey(tls.clientKeyFile, 'remote.clientKeyFile');
    if (!certificate!.checkPrivateKey(key)) {
      throw new InputError('invalid_remote_tls', `remote.clientKeyFile '${tls.clientKeyFile}' is not the key of the certificate in remote.clientCertFile`, { field: 'remote.clientKeyFile' });
    }
  }
  return tls;
}

function readPem(file: string, field: string): string {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    size = stat.size;
  } catch (error) {
    throw new InputError('invalid_remote_tls', `cannot read ${field} '${file}': ${(error as Error).message}`, { field }, { cause: error });
  }
  if (size > MAX_PEM_BYTES) throw new InputError('invalid_remote_tls', `${field} '${file}' is larger than ${MAX_PEM_BYTES} bytes: not a PEM file`, { field });
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError('invalid_remote_tls', `cannot read ${field} '${file}': ${(error as Error).message}`, { field }, { cause: error });
  }
}

function readCertificates(file: string, field: string): X509Certificate[] {
  const blocks = readPem(file, field).match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new InputError('invalid_remote_tls', `${field} '${file}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, { field });
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new InputError('invalid_remote_tls', `${field} '${file}': certificate ${index + 1} does not parse: ${(error as Error).message}`, { field }, { cause: error });
    }
  });
}

function readPrivateKey(file: string, field: string): KeyObject {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    throw new InputError('invalid_remote_tls', `cannot read ${field} '${file}': ${(error as Error).message}`, { field }, { cause: error });
  }
  if ((mode & 0o077) !== 0) throw new InputError('insecure_key_file', `${field} '${file}' is readable by group or others (hint: chmod 600)`, { field });
  const block = PRIVATE_KEY_BLOCK.exec(readPem(file, field))?.[0];
  if (block === undefined) throw new InputError('invalid_remote_tls', `${field} '${file}' holds no PEM private key (-----BEGIN PRIVATE KEY-----)`, { field });
  try {
    return createPrivateKey(block);
  } catch (error) {
    const encrypted = (error as { code?: string }).code === 'ERR_MISSING_PASSPHRASE' || /ENCRYPTED/.test(block);
    const why = encrypted ? 'it is encrypted (git would have to prompt for the passphrase; give it an unencrypted key, mode 0600)' : (error as Error).message;
    throw new InputError('invalid_remote_tls', `${field} '${file}' is not a usable private key: ${why}`, { field }, { cause: error });
  }
}

/** `dir`, created empty (anything left in it from before is removed). */
function emptyDirectory(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
  return dir;
}
