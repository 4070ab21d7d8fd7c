// The parts of the AWS SDK v3 that redlab-connector-s3 uses, in one module: the CLI and
// bridge bundles keep it in a file of its own (dist/s3-sdk.js, scripts/bundle.js), loaded on
// the first S3 transfer, so every other command starts without 1.5 MB of SDK.
export { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
export { Upload } from '@aws-sdk/lib-storage';
