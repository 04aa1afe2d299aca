import type { ActivationPipeline } from '../activation/activation-pipeline.js';
import type { Logger } from '../logger.js';
import type { AuditLog, AuditRecordInput } from './audit-log.js';

/**
 * Records every activation result of a pipeline in the audit log (`activation.succeeded` /
 * `activation.rejected`, by `system`, with the environment when it is one), so an auditor sees what
 * reached the fleet and what was held back, and why. A record that cannot be written is logged.
 */
export function auditActivations(pipeline: ActivationPipeline, audit: AuditLog, logger: Logger, environment?: string): void {
  pipeline.onEvent((event) => {
    const record: AuditRecordInput = event.type === 'activated'
      ? { action: 'activation.succeeded', outcome: 'success', subject: 'system', environment, revision: event.result.revision, detail: `bundles ${event.result.bundles.join(', ')} in ${event.result.timings.totalMs} ms` }
      : { action: 'activation.rejected', outcome: 'failed', subject: 'system', environment, revision: event.failure.revision, reason: event.failure.code, detail: `${event.failure.step}: ${event.failure.message}`.slice(0, 2000) };
    audit.append(record).catch((error: unknown) => logger.error({ err: error, revision: record.revision }, 'could not record an activation in the audit log'));
  });
}
