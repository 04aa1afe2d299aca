import type { ActivationPipeline } from '../domain/activation/activation-pipeline.js';
import type { Logger } from '../domain/logger.js';
import type { BundleSink } from '../domain/publishing/bundle-sink.js';
import { DEFAULT_SET, SinkPublisher, type SinkStats, type SinkStatus } from '../domain/publishing/sink-publisher.js';
import type { LoadedPublishSettings } from '../keys/load-publish-settings.js';
import { OciBundleSink } from '../sinks/oci-bundle-sink.js';
import { S3BundleSink } from '../sinks/s3-bundle-sink.js';

export interface PublishSinks {
  /** Every configured sink's state, in configuration order (S3 first), for `GET /status` → `sinks`. */
  status(): SinkStatus[];
  /** Counters and gauges per sink, for metrics. */
  stats(): SinkStats[];
  /** Stops retries and abandons uploads in flight; then waits until none runs. */
  close(): Promise<void>;
}

/**
 * One {@link SinkPublisher} per configured S3 bucket and OCI registry, each following the `activated`
 * event of every bundle set's pipeline (the tracked branch's, and each environment's under its name).
 * Subscribed before the pipelines start, so the first activation is published too.
 */
export function createPublishSinks(settings: LoadedPublishSettings, deps: { main: ActivationPipeline; environments: ReadonlyArray<{ name: string; activation: ActivationPipeline }>; logger: Logger }): PublishSinks {
  const sinks: BundleSink[] = [...settings.s3.map((s3) => S3BundleSink.create(s3)), ...settings.oci.map((oci) => OciBundleSink.create(oci))];
  const logger = deps.logger.child({ component: 'publish' });
  const publishers = sinks.map((sink) => SinkPublisher.create({ sink, retry: settings.retry, timeoutMs: settings.timeoutMs, logger }));
  const unsubscribe: Array<() => void> = [];
  const follow = (activation: ActivationPipeline, set: string): void => {
    unsubscribe.push(activation.onEvent((event) => {
      if (event.type === 'activated') for (const publisher of publishers) publisher.offer(set, event.published);
    }));
  };
  if (publishers.length > 0) {
    follow(deps.main, DEFAULT_SET);
    for (const environment of deps.environments) follow(environment.activation, environment.name);
    logger.info({ sinks: sinks.map((sink) => ({ name: sink.name, kind: sink.kind, target: sink.target })) }, 'publishing activated bundles to sinks');
  }
  return {
    status: () => publishers.map((publisher) => publisher.status()),
    stats: () => publishers.map((publisher) => publisher.stats()),
    async close() {
      for (const stop of unsubscribe) stop();
      for (const publisher of publishers) publisher.stop();
      await Promise.all(publishers.map((publisher) => publisher.idle()));
      for (const sink of sinks) if (sink instanceof S3BundleSink) sink.close();
    },
  };
}
