import { UnprocessableError } from '../domain/errors.js';
import type { BundleSink, SinkBundle } from '../domain/publishing/bundle-sink.js';
import { bundleArtifact, isOciRepositoryName } from './oci-artifact.js';
import { OciRegistryClient } from './oci-registry-client.js';

export interface OciSinkSettings {
  name: string;
  /** `host[:port]`. */
  registry: string;
  /** Repository prefix: a bundle `rbac` goes to `<repository>/rbac`, an environment's to `<repository>/prod/rbac`. */
  repository: string;
  /** Plain http instead of https. */
  insecure: boolean;
  credentials?: { username: string; password: string };
}

/** The tag OPA agents pull (`resource: <registry>/<repository>/<bundle>:latest`). */
export const OCI_LATEST_TAG = 'latest';

/**
 * Publishes each bundle as an OCI artifact OPA's OCI downloader pulls (`services[s].type: oci`): the
 * config and the bundle layer are uploaded unless the registry has them already (blobs are addressed
 * by digest, so this is idempotent), then the manifest is tagged `<revision>`, and only then `latest`:
 * `latest` always names a manifest whose blobs are all there.
 */
export class OciBundleSink implements BundleSink {
  readonly kind = 'oci';
  readonly target: string;
  private readonly client: OciRegistryClient;

  private constructor(private readonly settings: OciSinkSettings) {
    this.client = new OciRegistryClient({ registry: settings.registry, insecure: settings.insecure, credentials: settings.credentials, sink: settings.name });
    this.target = `${settings.registry}/${settings.repository}`;
  }

  static create(settings: OciSinkSettings): OciBundleSink {
    return new OciBundleSink(settings);
  }

  get name(): string {
    return this.settings.name;
  }

  repositoryFor(path: string): string {
    return `${this.settings.repository}/${path}`;
  }

  latestLocation(path: string): string {
    return `${this.settings.registry}/${this.repositoryFor(path)}:${OCI_LATEST_TAG}`;
  }

  async publish(bundle: SinkBundle, signal: AbortSignal): Promise<void> {
    const repository = this.repositoryFor(bundle.path);
    if (!isOciRepositoryName(repository)) {
      throw new UnprocessableError('sink_name_invalid', `OCI sink '${this.name}': '${repository}' is not a valid repository name (lower-case letters and digits, separated by '.', '_', '__', '-' or '/'); rename the bundle`, { sink: this.name, bundle: bundle.path });
    }
    const artifact = bundleArtifact(bundle);
    for (const blob of [artifact.config, artifact.layer]) {
      if (!(await this.client.blobExists(repository, blob.digest, signal))) await this.client.uploadBlob(repository, blob, signal);
    }
    await this.client.putManifest(repository, bundle.revision, artifact.manifest, signal);
    await this.client.putManifest(repository, OCI_LATEST_TAG, artifact.manifest, signal);
  }
}
