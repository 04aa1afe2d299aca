import type { ListenOptions } from 'node:net';

/**
 * Node's `server.listen()` accepts `reusePort` from v22.12.0 in the 22 line and from v23.1.0 on: several
 * processes then listen on one port and the kernel spreads connections over them (SO_REUSEPORT).
 * Older Nodes ignore the option without a word, so the second process fails with EADDRINUSE; the
 * check below says so before anyone relies on it. @types/node follows the oldest supported line (20),
 * which does not know the option: it is declared here.
 */
export type RegentListenOptions = ListenOptions & { reusePort?: boolean };

/** Platforms whose kernels have SO_REUSEPORT load balancing, as Node's `server.listen()` documents. */
const REUSE_PORT_PLATFORMS: ReadonlySet<string> = new Set(['linux', 'freebsd', 'sunos', 'aix']);

export type ReusePortSupport = { supported: true } | { supported: false; reason: string };

/**
 * Whether a Node of `nodeVersion` (as `process.versions.node` writes it: `24.22.3`) on `platform` can
 * listen with `reusePort`. A version it cannot read counts as unsupported: the caller then keeps to one
 * listening process rather than finding out from EADDRINUSE.
 */
export function reusePortSupport(nodeVersion: string = process.versions.node, platform: string = process.platform): ReusePortSupport {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(nodeVersion);
  if (!match) return { supported: false, reason: `cannot read the Node version '${nodeVersion}'` };
  const [major, minor] = [Number(match[1]), Number(match[2])];
  const versionOk = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  if (!versionOk) return { supported: false, reason: `Node ${nodeVersion} has no reusePort for server.listen (it needs 22.12+ or 23.1+)` };
  if (!REUSE_PORT_PLATFORMS.has(platform)) return { supported: false, reason: `reusePort is not available on ${platform}` };
  return { supported: true };
}

export interface ListenRequest {
  port: number;
  host: string;
  /** Share the port with other processes listening the same way (worker processes). */
  reusePort?: boolean;
}

export interface ListenPlan {
  options: RegentListenOptions;
  /** Whether `options` asks for a shared port: false when it was not asked for or is not supported. */
  reusePort: boolean;
  /** Why a requested `reusePort` is not used. */
  unsupported?: string;
}

/**
 * The options for `server.listen()`. `reusePort` is passed only when asked for and supported by the
 * running Node (injected for tests); otherwise the options are the plain port and host of Node 20 and
 * the plan says why, so a caller that needs a shared port can refuse to start more than one listener.
 */
export function planListen(request: ListenRequest, support: ReusePortSupport = reusePortSupport()): ListenPlan {
  const options: RegentListenOptions = { port: request.port, host: request.host };
  if (!request.reusePort) return { options, reusePort: false };
  if (!support.supported) return { options, reusePort: false, unsupported: support.reason };
  return { options: { ...options, reusePort: true }, reusePort: true };
}
