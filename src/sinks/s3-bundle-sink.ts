import { createHash } from 'node:crypto';
import { CopyObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { UnavailableError } from '../domain/errors.js';
import type { BundleSink, SinkBundle } from '../domain/publishing/bundle-sink.js';

/** Static credentials (from a file or `AWS_*` variables); none = the AWS SDK's own chain (instance roles...). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3SinkSettings {
  name: string;
  /** `https://s3.example.com` or `http://127.0.0.1:7070`; AWS's regional endpoint when absent. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Key prefix without leading or trailing `/` (`''` = the bucket's root). */
  prefix: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (most S3-compatible stores). */
  forcePathStyle: boolean;
  credentials?: S3Credentials;
  timeoutMs: number;
}

/** The object name OPA agents read: the "latest" of a bundle. */
export const S3_LATEST_NAME = 'bundle.tar.gz';

/**
 * Publishes bundles to S3-compatible object storage through the AWS SDK (SigV4):
 * `<prefix>/<bundle>/<revision>.tar.gz` first, then `<prefix>/<bundle>/bundle.tar.gz` as a server-side
 * copy of exactly that object (`CopySourceIfMatch` on the ETag the upload returned), so "latest" only
 * ever names a complete upload. The store sets its own ETag (not Regent's); OPA agents with
 * `credentials.s3_signing` send it back in `If-None-Match` and get 304 while nothing changed. Both writes
 * are idempotent: publishing a revision again writes the same bytes under the same names.
 */
export class S3BundleSink implements BundleSink {
  readonly kind = 's3';
  readonly target: string;

  private constructor(private readonly settings: S3SinkSettings, private readonly client: S3Client) {
    this.target = `s3://${settings.bucket}${settings.prefix ? `/${settings.prefix}` : ''}`;
  }

  static create(settings: S3SinkSettings): S3BundleSink {
    const client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.forcePathStyle,
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      // Retries are the sink publisher's (with backoff, shown in /status), not the SDK's.
      maxAttempts: 1,
      // Checksums only where S3 requires them: S3-compatible stores do not all know the newer ones. The
      // upload carries Content-MD5, which every store checks.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: Math.min(10_000, settings.timeoutMs), requestTimeout: settings.timeoutMs },
    });
    return new S3BundleSink(settings, client);
  }

  get name(): string {
    return this.settings.name;
  }

  /** The key of a bundle's object: `<prefix>/<path>/<file>`. */
  key(path: string, file: string): string {
    return [this.settings.prefix, path, file].filter((part) => part !== '').join('/');
  }

  latestLocation(path: string): string {
    return `s3://${this.settings.bucket}/${this.key(path, S3_LATEST_NAME)}`;
  }

  async publish(bundle: SinkBundle, signal: AbortSignal): Promise<void> {
    const { bucket } = this.settings;
    const revisionKey = this.key(bundle.path, `${bundle.revision}.tar.gz`);
    const latestKey = this.key(bundle.path, S3_LATEST_NAME);
    const put = await this.guard(bundle.path, signal, () => this.client.send(new PutObjectCommand({
      Bucket: bucket,
      Key: revisionKey,
      Body: bundle.bytes,
      ContentLength: bundle.bytes.length,
      ContentType: 'application/gzip',
      ContentMD5: createHash('md5').update(bundle.bytes).digest('base64'),
      Metadata: { 'regent-revision': bundle.revision, 'regent-sha256': bundle.sha256 },
    }), { abortSignal: signal }));
    await this.guard(bundle.path, signal, () => this.client.send(new CopyObjectCommand({
      Bucket: bucket,
      Key: latestKey,
      CopySource: `${bucket}/${revisionKey.split('/').map(encodeURIComponent).join('/')}`,
      ...(put.ETag ? { CopySourceIfMatch: put.ETag } : {}),
      MetadataDirective: 'COPY',
    }), { abortSignal: signal }));
  }

  /** Closes the SDK's connection pool. */
  close(): void {
    this.client.destroy();
  }

  private async guard<T>(path: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw describeS3Error(error, this.name, path);
    }
  }
}

/**
 * `sink_refused` for an answer that retrying will not change by itself (credentials, permissions, a
 * missing bucket: the store's own error name is kept), `sink_unavailable` for anything else (no answer,
 * a 5xx). Neither message carries credentials.
 */
export function describeS3Error(error: unknown, sink: string, path: string): UnavailableError {
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0;
    const code = status >= 400 && status < 500 ? 'sink_refused' : 'sink_unavailable';
    return new UnavailableError(code, `S3 sink '${sink}' answered ${status} ${error.name} for ${path}: ${error.message}`, { sink, status, s3Code: error.name }, { cause: error });
  }
  const cause = error as NodeJS.ErrnoException;
  return new UnavailableError('sink_unavailable', `S3 sink '${sink}' could not be reached for ${path}: ${cause?.code ?? ''} ${cause?.message ?? String(error)}`.replace(/\s+/g, ' '), { sink }, { cause: error });
}
