/**
 * OPA release versions as agents report them (`labels.version`: `1.22.2`) and as OPA names its
 * capabilities files (`v1.22.2`). Only `major.minor.patch` counts: a suffix (`-dev`, `-rc.1`) is a build
 * of that release's line and is read as the release.
 */
export interface OpaVersion {
  major: number;
  minor: number;
  patch: number;
}

const VERSION = /^v?(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:[-+][0-9A-Za-z.+-]{0,64})?$/;

/** The version `text` names, or undefined when it is not `[v]major.minor.patch[-suffix]`. */
export function parseOpaVersion(text: string): OpaVersion | undefined {
  const match = VERSION.exec(text.trim());
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/** `v1.22.2`: the name OPA gives the capabilities of a release (`opa capabilities --version v1.22.2`). */
export function opaVersionName(version: OpaVersion): string {
  return `v${version.major}.${version.minor}.${version.patch}`;
}

/** Negative when `a` is older than `b`, zero when the same release, positive when newer. */
export function compareOpaVersions(a: OpaVersion, b: OpaVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}
