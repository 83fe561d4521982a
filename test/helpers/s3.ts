// A real S3 endpoint on loopback for tests: s3rver (the S3 protocol over a local folder), with a
// bucket of its own. The same client code talks to MinIO or AWS in production.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from '@20minutes/s3rver';

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** the environment a service process needs to use it (ARTIFACT_URL and friends) */
  env(prefix?: string): Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalS3(bucket = `repdyn-test-${process.pid}`): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'repdyn-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    // the SDK's current signing (extra signed headers) is newer than s3rver's checker; credentials
    // are still sent and parsed, as against MinIO
    allowMismatchedSignatures: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const address = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket,
    env: (prefix = 'artifacts') => ({
      ARTIFACT_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    }),
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
