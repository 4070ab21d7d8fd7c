// A real S3 server for connector tests: S3Proxy (installed by .ci/s3proxy.sh, a jar run by
// Java 17) on a free 127.0.0.1 port, with its filesystem backend in a temp folder: each
// bucket is a folder of `root`, each object a file (keys with '/' are nested files). Fresh
// access key id and secret per server, AWS signatures v2 and v4 checked.
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync } from 'fs';
import { mkdir, mkdtemp, rm, writeFile } from 'fs/promises';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { freePort } from './http-server';

export const S3PROXY_JAR = process.env.REDLAB_S3PROXY_JAR || path.join(process.env.REDLAB_CACHE || '/var/cache/redlab', 's3proxy', 's3proxy.jar');

export interface S3TestServer {
  /** http://127.0.0.1:port */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** The backend's folder: `root/<bucket>/<key>` is the object. */
  root: string;
  /** The object's file on this machine. */
  objectPath(bucket: string, key: string): string;
  stop(): Promise<void>;
}

/** Resolves when the server answers HTTP (any status) on `port`. */
async function waitForHttp(port: number, exited: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited()) throw new Error(`s3proxy exited: ${log()}`);
    const ok = await new Promise<boolean>(resolve => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, res => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`s3proxy did not answer on 127.0.0.1:${port} within 60 s: ${log()}`);
    await new Promise(r => setTimeout(r, 200));
  }
}

/** Starts S3Proxy serving `buckets` (bucket → key → content; an empty record: an empty bucket). */
export async function startS3Server(buckets: Record<string, Record<string, string | Buffer>> = {}): Promise<S3TestServer> {
  if (!existsSync(S3PROXY_JAR)) throw new Error(`S3Proxy is not installed at ${S3PROXY_JAR}: run .ci/setup (it calls .ci/s3proxy.sh), or set REDLAB_S3PROXY_JAR`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'redlab-s3proxy-'));
  const root = path.join(dir, 'data');
  const objectPath = (bucket: string, key: string) => path.join(root, bucket, ...key.split('/'));
  for (const [bucket, objects] of Object.entries(buckets)) {
    await mkdir(path.join(root, bucket), { recursive: true });
    for (const [key, content] of Object.entries(objects)) {
      await mkdir(path.dirname(objectPath(bucket, key)), { recursive: true });
      await writeFile(objectPath(bucket, key), content);
    }
  }
  await mkdir(root, { recursive: true });
  const port = await freePort();
  const accessKeyId = 'redlab-' + randomBytes(6).toString('hex');
  const secretAccessKey = 'sk-' + randomBytes(18).toString('base64url');
  const conf = path.join(dir, 's3proxy.conf');
  await writeFile(
    conf,
    [
      `s3proxy.endpoint=http://127.0.0.1:${port}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${accessKeyId}`,
      `s3proxy.credential=${secretAccessKey}`,
      'jclouds.provider=filesystem-nio2',
      `jclouds.filesystem.basedir=${root}`,
      ''
    ].join('\n')
  );
  // LOG_LEVEL: S3Proxy logs every request at info; warnings are enough to explain a failure.
  const proc = spawn('java', ['-Xmx256m', '-jar', S3PROXY_JAR, '--properties', conf], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let exited = false;
  proc.once('exit', () => (exited = true));
  const stop = async () => {
    if (!exited) {
      const gone = new Promise(r => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(port, () => exited, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint: `http://127.0.0.1:${port}`, port, accessKeyId, secretAccessKey, root, objectPath, stop };
}
