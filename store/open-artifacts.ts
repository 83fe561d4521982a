// The artifact store a process uses, from its configuration: an S3-compatible bucket when
// ARTIFACT_URL is set (s3://bucket/prefix), the ARTIFACT_DIR directory otherwise.
import type { Config } from '../config/index.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { FsArtifactStore } from './artifacts.ts';
import { parseS3Url, S3ArtifactStore } from './artifacts-s3.ts';

export function openArtifactStore(config: Pick<Config, 'artifactDir' | 'artifactUrl' | 's3'>): ArtifactStore {
  if (!config.artifactUrl) return new FsArtifactStore(config.artifactDir);
  return new S3ArtifactStore({
    ...parseS3Url(config.artifactUrl),
    endpoint: config.s3.endpoint,
    region: config.s3.region,
    forcePathStyle: config.s3.forcePathStyle,
    credentials: config.s3.credentials,
  });
}
