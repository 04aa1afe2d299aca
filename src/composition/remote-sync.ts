import { schedule as scheduleCron, type ScheduledTask } from 'node-cron';
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
