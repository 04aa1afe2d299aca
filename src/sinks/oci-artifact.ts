import { createHash } from 'node:crypto';
import type { SinkBundle } from '../domain/publishing/bundle-sink.js';

/** The media types OPA's OCI downloader (`v1/download/oci_download.go`) reads. */
export const OCI_IMAGE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** OPA takes the first layer of this media type as the bundle; its digest is the agent's "ETag". */
export const OCI_LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface OciBlob {
  mediaType: string;
  /** `sha256:<hex>`. */
  digest: string;
  bytes: Buffer;
}

export interface BundleArtifact {
  config: OciBlob;
  layer: OciBlob;
  manifest: OciBlob;
}

/**
 * One bundle as the OCI artifact OPA pulls: an image manifest (`schemaVersion` 2, OCI media type) whose
 * config is an empty image config and whose one layer is the signed bundle tarball, unchanged, as
 * `application/vnd.oci.image.layer.v1.tar+gzip` (titled `bundle.tar.gz`, so `oras pull` names it so).
 * Nothing in it depends on time: a revision gives the same manifest digest on every replica, so pushing
 * it again is a no-op.
 */
export function bundleArtifact(bundle: SinkBundle): BundleArtifact {
  const config = blob(OCI_IMAGE_CONFIG, Buffer.from('{}'));
  const layer: OciBlob = { mediaType: OCI_LAYER_TAR_GZIP, digest: `sha256:${bundle.sha256}`, bytes: bundle.bytes };
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_IMAGE_MANIFEST,
    config: descriptor(config),
    layers: [{ ...descriptor(layer), annotations: { 'org.opencontainers.image.title': 'bundle.tar.gz' } }],
    annotations: {
      'org.opencontainers.image.revision': bundle.revision,
      'org.opencontainers.image.title': bundle.path,
    },
  };
  return { config, layer, manifest: blob(OCI_IMAGE_MANIFEST, Buffer.from(JSON.stringify(manifest))) };
}

/**
 * A repository name the distribution spec accepts (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` per `/`-separated
 * component). Regent's bundle names are lower case already; some (`a..b`, `x.`) are still not valid here.
 */
export function isOciRepositoryName(name: string): boolean {
  return name.length <= 255 && /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/.test(name);
}

function blob(mediaType: string, bytes: Buffer): OciBlob {
  return { mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes };
}

function descriptor(of: OciBlob): { mediaType: string; digest: string; size: number } {
  return { mediaType: of.mediaType, digest: of.digest, size: of.bytes.length };
}
