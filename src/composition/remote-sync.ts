import { schedule as scheduleCron, type ScheduledTask } from 'node-cron';
import { signsRandomized } from '../domain/bundles/bundle-signer.js';
import type { Logger } from '../domain/logger.js';
import type { MirrorService } from '../domain/mirror/mirror-service.js';

/**
 * Remote mode's first sync and its safety-net schedule. An empty store is cloned before activation
 * starts (a failure is retried with backoff while Regent stays up, not ready); otherwise the last good
 * revision is served at once and the sync runs alongside. node-cron's own messages (missed ticks under
 * load) become JSON log lines, not console output.
 */
export async function startRemoteSync(options: { mirror: MirrorService; schedule: string; emptyStore: boolean; logger: Logger }): Promise<ScheduledTask> {
  const { mirror, logger } = options;
  if (options.emptyStore) await mirror.requestAndWait('start');
  else mirror.request('start');
  const cronLog = logger.child({ component: 'cron' });
  return scheduleCron(options.schedule, () => mirror.request('cron'), {
    name: 'regent-remote-sync',
    noOverlap: true,
    logger: {
      info: (message) => cronLog.debug({ detail: message }, 'cron'),
      warn: (message) => cronLog.warn({ detail: message }, 'cron'),
      error: (message, err) => cronLog.error({ err: err ?? message }, 'cron'),
      debug: (message, err) => cronLog.debug({ err: err ?? message }, 'cron'),
    },
  });
}

/**
 * What an operator of remote mode must know at start-up: a plain-http remote, and a signing algorithm
 * whose signatures are randomized, which makes replicas of one remote serve different `.signatures.json`
 * bytes, hence different ETags, for the same revision (docs/replicas.md).
 */
export function warnAboutRemoteMode(options: { remoteUrl: string; insecureHttp: boolean; token: boolean; signingAlgorithm: string; logger: Logger }): void {
  const { logger } = options;
  if (options.insecureHttp) {
    logger.warn({ remote: options.remoteUrl, token: options.token }, 'remote.allowInsecureHttp: the remote is reached over plain http; fetched policies and pushed commits (and a token, if any) are not protected on the wire');
  }
  if (signsRandomized(options.signingAlgorithm)) {
    logger.warn({ algorithm: options.signingAlgorithm }, 'remote mode with a randomized signing algorithm (ES*/PS*): each replica of this remote signs a revision differently, so agents moved between replicas download again; use an RS* or HS* key for replicas');
  }
}
