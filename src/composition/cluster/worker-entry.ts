import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { RegentConfig } from '../../config/schema.js';
import type { Logger } from '../../domain/logger.js';
import { BundleCounters } from '../../http/bundles/bundle-counters.js';
import { createBundleHandler, type BundleSet } from '../../http/bundles/bundle-handler.js';
import { LongPollWaiters } from '../../http/bundles/long-poll-waiters.js';
import { ReplicaCatalog } from '../../http/bundles/replica-catalog.js';
import { planListen } from '../../http/listen-options.js';
import { createRegentServer } from '../../http/regent-server.js';
import { openAgentAccess } from '../agent-access.js';
import { createLogger } from '../logger.js';
import { isClusterMessage, type ToPrimary, type ToWorker } from './cluster-messages.js';
import { PrimaryChannel } from './primary-channel.js';
import { createWorkerProxies } from './worker-proxies.js';

/**
 * A worker process (forked by the primary's {@link WorkerPool}): answers `GET|HEAD /bundles/...` from
 * its replica of the catalog, holds long polls until the primary says every worker has the new
 * revision, and passes every other request to the primary. It lives as long as the primary does: when
 * the IPC channel closes (the primary exited or was killed), it exits.
 */
function runWorker(): void {
  const send = (message: ToPrimary): void => {
    if (process.connected) process.send!(message);
  };
  process.on('disconnect', () => process.exit(0));
  let serving: ReturnType<typeof serve> | undefined;
  // A signal to the whole process group reaches the primary too, which drains every worker in order;
  // a worker signalled alone drains itself a moment later (and the primary replaces it).
  const onSignal = (): void => {
    setTimeout(() => serving ? serving.onMessage({ type: 'shutdown' }) : process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const early: ToWorker[] = [];
  process.on('message', (message: unknown) => {
    if (!isClusterMessage(message)) return;
    const typed = message as ToWorker;
    if (typed.type === 'init') {
      serving = serve(typed, send);
      for (const queued of early.splice(0)) serving.onMessage(queued);
    } else if (serving) serving.onMessage(typed);
    else early.push(typed);
  });
  send({ type: 'ready' });
}

function serve(init: Extract<ToWorker, { type: 'init' }>, send: (message: ToPrimary) => void) {
  const config: Readonly<RegentConfig> = init.config;
  const workerId = cluster.worker?.id ?? 0;
  process.title = `node regent worker ${workerId}`;
  const logger: Logger = createLogger({ level: config.log.level, format: config.log.format }).child({ worker: workerId, pid: process.pid });
  const agents = openAgentAccess(config, logger);
  const channel = new PrimaryChannel(send, workerId, config.agents.maxHeldPollsPerAgent);
  const sets = new Map<string, { catalog: ReplicaCatalog; waiters: LongPollWaiters }>();
  for (const { set, revision, staged } of init.sets) {
    const catalog = new ReplicaCatalog();
    if (revision) catalog.install(revision);
    catalog.release();
    // A round under way: staged like the other workers', served from its release.
    if (staged) catalog.install(staged);
    sets.set(set, { catalog, waiters: LongPollWaiters.create({ batchSize: config.bundles.releaseBatchSize, logger: logger.child({ component: 'long-poll', ...(set ? { environment: set } : {}) }) }) });
  }
  const main = sets.get('')!;
  const environments = new Map<string, BundleSet>([...sets].filter(([set]) => set !== ''));
  const proxies = createWorkerProxies({ socketPath: init.primarySocket, logger, idleTimeoutMs: (config.bundles.longPollMaxSeconds + 30) * 1000 });
  const counters = new BundleCounters();
  const bundles = createBundleHandler({
    catalog: main.catalog, waiters: main.waiters, environments, longPollMaxSeconds: config.bundles.longPollMaxSeconds, logger,
    agents: agents.authenticator, heldPolls: channel.heldPolls, refetches: channel.refetches, delegate: proxies.deltas, counters,
  });
  const server = createRegentServer({ bundles, app: proxies.app });
  server.listen(planListen({ port: init.port, host: config.host }).options, () => send({ type: 'listening', address: server.address() as AddressInfo }));
  server.on('error', (error) => {
    logger.error({ err: error }, 'worker could not listen');
    process.exit(1);
  });
  const prepareDelayMs = testPrepareDelayMs(workerId);
  const stats = setInterval(() => send({ type: 'stats', longPollWaiters: [...sets.values()].reduce((sum, { waiters }) => sum + waiters.size, 0), bundles: counters.drain() }), 1000);
  stats.unref();

  const shutdown = (): void => {
    clearInterval(stats);
    server.close(() => process.exit(0));
    for (const { waiters } of sets.values()) waiters.expireAll();
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5000).unref();
    channel.close();
    agents.close();
  };
  return {
    onMessage(message: ToWorker): void {
      if (channel.onMessage(message)) return;
      switch (message.type) {
        case 'prepare': {
          const install = (): void => {
            sets.get(message.set)?.catalog.install(message.revision);
            logger.info({ component: 'replica', set: message.set, revision: message.revision.revision }, 'revision prepared');
            send({ type: 'prepared', round: message.round });
          };
          if (prepareDelayMs > 0) setTimeout(install, prepareDelayMs);
          else install();
          return;
        }
        case 'release': {
          const set = sets.get(message.set);
          if (!set) return;
          const changed = set.catalog.release();
          logger.info({ component: 'replica', set: message.set, revision: set.catalog.published?.revision }, 'revision released');
          set.waiters.release(changed);
          return;
        }
        case 'reload':
          agents.reload('SIGHUP');
          return;
        case 'shutdown':
          shutdown();
          return;
        default:
          return;
      }
    },
  };
}

/**
 * Test-only: `REGENT_TEST_PREPARE_DELAY=<worker>:<ms>` makes that worker take `ms` to take in each
 * revision, standing in for a slow worker, so tests can show the long polls of every other worker wait
 * for it. Not a configuration key; never set outside the test suite.
 */
function testPrepareDelayMs(workerId: number): number {
  const match = /^(\d+):(\d{1,5})$/.exec(process.env.REGENT_TEST_PREPARE_DELAY ?? '');
  return match && Number(match[1]) === workerId ? Number(match[2]) : 0;
}

runWorker();
