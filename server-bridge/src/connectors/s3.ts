// redlab-connector-s3, built in: objects of an S3 (or S3-compatible) bucket with the AWS SDK v3.
// Access: {endpoint?, bucket, key (File) | prefix (Directory), region?, auth: {accessKeyId,
// secretAccessKey}, forcePathStyle?, timeout? (seconds)}. Receive a File (one object) or a
// Directory (every object under the prefix, or only what a `listing` names); send a File or a
// Directory (multipart uploads through @aws-sdk/lib-storage for large files). Data streams from
// the socket to disk and from disk to the socket, part by part: never whole in memory.
//
// Only the RED's credentials are used, never the bridge host's (~/.aws, AWS_* variables, instance
// roles): the client gets them explicitly. The endpoint obeys the connectors' HostPolicy: a
// literal address is vetted before the first request, and names are vetted at every connection
// by the policy's agents (whose `lookup` connects only to a vetted address).
import { createWriteStream, constants as fsConstants } from 'fs';
import { lstat, mkdir, open, readdir, rename, rm } from 'fs/promises';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import type { Readable } from 'stream';
import type { S3Client, S3ClientConfig } from './s3-sdk';
import type { ListingEntry } from '../../../src/red';
import { isSafeSegment } from '../util/fs-safety';
import { describeNetError } from './http-client';
import { HostPolicy, HostRefusedError } from './host-policy';
import { contextRetry, DEFAULT_RETRY_POLICY, isTransientNetError, TransientConnectorError, withRetries } from './retry';
import { TransferCounter } from './transfer-progress';
import {
  ConnectorError,
  type ConnectorContext,
  type InputConnector,
  type InputStageRequest,
  type OutputConnector,
  type OutputSendRequest,
  type SourceIdentity,
  type StagedInput
} from './types';

export const S3_CONNECTOR = 'redlab-connector-s3';
const DEFAULT_REGION = 'us-east-1';
const DEFAULT_TIMEOUT_S = 30;
/** Parts of a multipart upload: 8 MiB (as the AWS CLI), larger for files over 80 GB (S3 allows 10,000 parts). */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
/** Parts uploaded at once (memory: about this many parts). */
const UPLOAD_QUEUE = 4;

/** The SDK (./s3-sdk), loaded when an S3 connector is first used: other runs start without it. */
function sdk(): typeof import('./s3-sdk') {
  // The SDK warns once per process that versions after early 2027 need Node 22; the lockfile
  // pins this one, and the warning would land in every run's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./s3-sdk') as typeof import('./s3-sdk');
}

export interface S3Access {
  /** The server's URL without a trailing slash; undefined: AWS. */
  endpoint?: string;
  bucket: string;
  /** The object (a File). */
  key?: string;
  /** The folder (a Directory): '' (the whole bucket) or ending in '/'. */
  prefix?: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  timeoutS: number;
}

const ACCESS_KEYS = ['endpoint', 'bucket', 'key', 'prefix', 'region', 'auth', 'forcePathStyle', 'timeout'];

/** Checks an access object; `where` names it (e.g. `input data`). Never quotes a secret. */
export function parseS3Access(access: Record<string, unknown> | undefined, where: string, cls: 'File' | 'Directory'): S3Access {
  const bad = (msg: string) => new ConnectorError(`${where} (${S3_CONNECTOR}): ${msg}`);
  if (!access || typeof access !== 'object') throw bad(`connector.access is missing; it needs {bucket, ${cls === 'File' ? 'key' : 'prefix'}, auth: {accessKeyId, secretAccessKey}} and, for a server other than AWS, endpoint`);
  const extra = Object.keys(access).filter(k => !ACCESS_KEYS.includes(k));
  if (extra.length) throw bad(`unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; allowed: ${ACCESS_KEYS.join(', ')}`);

  let endpoint: string | undefined;
  if (access.endpoint !== undefined && access.endpoint !== '') {
    if (typeof access.endpoint !== 'string') throw bad('access.endpoint must be the S3 server\'s URL, e.g. https://s3.example.org');
    let u: URL;
    try {
      u = new URL(access.endpoint);
    } catch {
      throw bad(`access.endpoint is not a URL; write it as https://host[:port], e.g. https://s3.example.org`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`access.endpoint must start with https:// or http://, not ${u.protocol}//`);
    if (u.username || u.password) throw bad('access.endpoint must not hold a user or password; give the keys in access.auth (the secret as a {{variable}})');
    if (u.search || u.hash) throw bad('access.endpoint must not have a ?query or #fragment');
    endpoint = u.toString().replace(/\/+$/, '');
  }

  if (typeof access.bucket !== 'string' || !access.bucket) throw bad("access.bucket must be the bucket's name");
  if (/[/\s\\]/.test(access.bucket) || /[\0-\x1f]/.test(access.bucket)) {
    throw bad(`access.bucket ${JSON.stringify(access.bucket)} is not a bucket name (no '/', spaces or control characters); the path inside the bucket goes in access.${cls === 'File' ? 'key' : 'prefix'}`);
  }

  const region = access.region === undefined || access.region === '' ? DEFAULT_REGION : access.region;
  if (typeof region !== 'string' || !/^[a-z0-9-]+$/i.test(region)) throw bad(`access.region must be a region name such as eu-central-1, not ${JSON.stringify(access.region)}`);

  const auth = access.auth as Record<string, unknown> | undefined;
  if (!auth || typeof auth !== 'object' || Array.isArray(auth)) throw bad('access.auth needs accessKeyId and secretAccessKey (give the secret as a {{variable}})');
  const authExtra = Object.keys(auth).filter(k => k !== 'accessKeyId' && k !== 'secretAccessKey');
  if (authExtra.length) throw bad(`unknown access.auth key${authExtra.length > 1 ? 's' : ''} ${authExtra.join(', ')}; allowed: accessKeyId, secretAccessKey`);
  if (typeof auth.accessKeyId !== 'string' || !auth.accessKeyId) throw bad('access.auth.accessKeyId must be the access key id (a string)');
  if (typeof auth.secretAccessKey !== 'string' || !auth.secretAccessKey) throw bad('access.auth.secretAccessKey must be the secret access key (a string, given as a {{variable}})');

  let forcePathStyle = endpoint !== undefined; // S3-compatible servers answer path-style; AWS prefers bucket host names
  if (access.forcePathStyle !== undefined) {
    if (typeof access.forcePathStyle !== 'boolean') throw bad('access.forcePathStyle must be true (https://host/bucket/key) or false (https://bucket.host/key)');
    forcePathStyle = access.forcePathStyle;
  }

  const timeoutS = access.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(access.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw bad(`access.timeout must be a number of seconds (> 0), not ${JSON.stringify(access.timeout)}`);

  const out: S3Access = { endpoint, bucket: access.bucket, region, accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey, forcePathStyle, timeoutS };
  const own = cls === 'File' ? 'key' : 'prefix';
  const other = cls === 'File' ? 'prefix' : 'key';
  const value = access[own];
  if (value === undefined || (cls === 'File' && value === '')) {
    throw bad(`a ${cls} needs access.${own} (${cls === 'File' ? "the object's key, e.g. data/train.csv" : "the folder's key prefix, e.g. data/tiles/ ('' for the whole bucket)"})${access[other] !== undefined ? `; access.${other} is for a ${cls === 'File' ? 'Directory' : 'File'}` : ''}`);
  }
  if (access[other] !== undefined) throw bad(`access.${other} is for a ${cls === 'File' ? 'Directory' : 'File'}; a ${cls} takes access.${own}`);
  if (typeof value !== 'string') throw bad(`access.${own} must be a string`);
  if (value.startsWith('/')) throw bad(`access.${own} starts with '/': S3 keys have no leading slash (write ${JSON.stringify(value.replace(/^\/+/, ''))})`);
  if (/[\0-\x1f]/.test(value)) throw bad(`access.${own} has a control character`);
  if (cls === 'File') {
    if (value.endsWith('/')) throw bad(`access.key ${JSON.stringify(value)} ends with '/', which names a folder; a File needs an object's key (for a folder use class Directory and access.prefix)`);
    out.key = value;
  } else out.prefix = value === '' || value.endsWith('/') ? value : value + '/';
  return out;
}

/** Where an object or prefix is, for records and messages: endpoint/bucket/key (path-style), else s3://bucket/key. */
export function s3Location(a: S3Access, keyOrPrefix: string): string {
  const k = keyOrPrefix.split('/').map(encodeURIComponent).join('/');
  if (!a.endpoint) return `s3://${a.bucket}/${k}`;
  if (a.forcePathStyle) return `${a.endpoint}/${encodeURIComponent(a.bucket)}/${k}`;
  const u = new URL(a.endpoint);
  u.hostname = `${a.bucket}.${u.hostname}`;
  return `${u.toString().replace(/\/+$/, '')}/${k}`;
}

export interface S3ConnectorOptions {
  policy?: HostPolicy;
  /** Part size of multipart uploads (at least 5 MiB); default DEFAULT_PART_SIZE. Files up to one part go in one PUT. */
  partSize?: number;
}

/** One S3 client for one input or output, and its failures in words. */
class S3Session {
  readonly client: S3Client;
  /** Bytes moved, for the run's progress events (set by the connector). */
  progress?: TransferCounter;

  constructor(
    readonly a: S3Access,
    readonly where: string,
    private readonly ctx: ConnectorContext,
    policy: HostPolicy
  ) {
    const timeoutMs = a.timeoutS * 1000;
    const config: S3ClientConfig = {
      region: a.region,
      ...(a.endpoint ? { endpoint: a.endpoint } : {}),
      forcePathStyle: a.forcePathStyle,
      // Explicit: the SDK's default chain would hand the bridge host's own credentials to any RED.
      credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
      // Sockets through the policy's agents: each connection goes to a vetted address.
      // access.timeout bounds connecting and each silence (socketTimeout: inactivity, so a large part may take long).
      requestHandler: { httpAgent: policy.agent(false), httpsAgent: policy.agent(true), connectionTimeout: timeoutMs, socketTimeout: timeoutMs },
      // Checksums only where the API requires them: many S3-compatible servers reject the
      // newer trailing-checksum uploads. The staging step verifies inputs itself.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A bucket in another region than access.region: follow S3's redirect.
      followRegionRedirects: true,
      // Each request is tried again on a dropped connection, 5xx or throttling (the SDK's own
      // backoff): a part of a multipart upload alone, not the whole file.
      maxAttempts: Math.max(1, ctx.retry?.attempts ?? DEFAULT_RETRY_POLICY.attempts)
    };
    this.client = new (sdk().S3Client)(config);
  }

  static async open(a: S3Access, where: string, ctx: ConnectorContext, policy: HostPolicy): Promise<S3Session> {
    if (ctx.signal?.aborted) throw new ConnectorError(`${where}: cancelled`);
    if (a.endpoint) {
      // A literal address never reaches the agents' lookup (Node connects to it directly): vet it here.
      const host = new URL(a.endpoint).hostname;
      try {
        await policy.vet(host);
      } catch (err) {
        if (err instanceof HostRefusedError) throw new ConnectorError(`${where} (${S3_CONNECTOR}): ${err.message}`);
        const code = (err as NodeJS.ErrnoException).code;
        throw new ConnectorError(`${where} (${S3_CONNECTOR}): the host of access.endpoint ${a.endpoint} was not found (${code ?? (err as Error).message}); check access.endpoint`);
      }
    }
    return new S3Session(a, where, ctx, policy);
  }

  close(): void {
    this.client.destroy();
  }

  /** Runs one request; a failure becomes a ConnectorError naming `what` (an object or prefix). */
  async run<T>(what: string, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      throw this.error(err, what);
    }
  }

  private get server(): string {
    return this.a.endpoint ?? `AWS S3 (${this.a.region})`;
  }

  /** An SDK or network failure worded for people; the secret key is never in it. */
  error(err: unknown, what: string): ConnectorError {
    const owner = this.where;
    if (this.ctx.signal?.aborted) return new ConnectorError(`${owner}: cancelled`);
    if (err instanceof ConnectorError) return err;
    const prefix = `${owner} (${S3_CONNECTOR}): ${what}`;
    const e = err as Error & NodeJS.ErrnoException & { Code?: string; $metadata?: { httpStatusCode?: number }; $response?: unknown };
    let msg: string;
    if (err instanceof HostRefusedError || e?.name === 'HostRefusedError') msg = `${prefix}: ${e.message}`;
    else if (e?.$metadata?.httpStatusCode !== undefined || e?.Code) msg = this.serviceError(prefix, e.Code ?? e.name, e.$metadata?.httpStatusCode, e.message);
    else if (e?.name === 'TimeoutError' || e?.code === 'ETIMEDOUT' || /timed? ?out/i.test(String(e?.message))) {
      msg = `${prefix}: no answer from ${this.server} within ${this.a.timeoutS} s; check access.endpoint and that the server runs (access.timeout sets how long to wait)`;
    } else if (netCode(e)) {
      const code = netCode(e) as string;
      const hint = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'].includes(code)
        ? `; check that the server runs and access.endpoint of ${owner}`
        : '';
      msg = `${prefix}: cannot reach ${this.server}: ${describeNetError({ ...e, code, message: e.message })}${hint}`;
    } else msg = `${prefix}: ${e?.message ?? String(err)}`;
    return new ConnectorError(scrub(msg, this.a.secretAccessKey));
  }

  private serviceError(prefix: string, code: string, status: number | undefined, message: string): string {
    const a = this.a;
    const owner = this.where;
    switch (code) {
      case 'InvalidAccessKeyId':
        return `${prefix}: ${this.server} does not know the access key id; check access.auth.accessKeyId of ${owner}`;
      case 'SignatureDoesNotMatch':
        return `${prefix}: ${this.server} refused the request's signature: the secret access key does not belong to the access key id; check access.auth.secretAccessKey of ${owner}`;
      case 'NoSuchBucket':
        return `${prefix}: there is no bucket ${a.bucket} on ${this.server}; check access.bucket${a.endpoint ? ' and access.endpoint' : ' and access.region'} of ${owner}`;
      case 'NoSuchKey':
      case 'NotFound':
        return `${prefix}: no such object in bucket ${a.bucket}; check access.key of ${owner} (for a folder use class Directory and access.prefix)`;
      case 'AccessDenied':
      case 'Forbidden':
        return `${prefix}: access denied by ${this.server}; check that the access key may use bucket ${a.bucket}`;
      case 'AuthorizationHeaderMalformed':
      case 'PermanentRedirect':
      case 'IllegalLocationConstraintException':
        return `${prefix}: bucket ${a.bucket} is in another region than ${a.region}; set access.region of ${owner}`;
      case 'RequestTimeTooSkewed':
        return `${prefix}: ${this.server} says this machine's clock is off; set the clock right (S3 signatures carry the time)`;
      default: {
        const hint = status !== undefined && status >= 500 ? 'the server failed; try again later or ask its owner' : `check connector.access of ${owner}`;
        return `${prefix}: ${this.server} answered${status !== undefined ? ` HTTP ${status}` : ''} ${code}${message && message !== code && message !== 'UnknownError' ? `: ${message}` : ''}; ${hint}`;
      }
    }
  }
}

/**
 * A socket error's code. The SDK's retry step keeps an error that is not an `Error` of its own
 * realm only as text ("AWS SDK error wrapper for Error: connect ECONNREFUSED …"): read it there too.
 */
function netCode(e: (Error & NodeJS.ErrnoException) | undefined): string | undefined {
  return e?.code ?? /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)\b/.exec(String(e?.message))?.[1];
}

/** `text` with every occurrence of `secret` masked (an error from elsewhere could echo it). */
function scrub(text: string, secret: string): string {
  return secret ? text.split(secret).join('********') : text;
}

/** Downloads one object into `dest` (through dest.part, removed on failure); a download cut off is tried again. Returns its size. */
async function getObject(s: S3Session, key: string, dest: string, ctx: ConnectorContext, total?: (bytes: number | undefined) => void): Promise<number> {
  return withRetries(() => getObjectOnce(s, key, dest, ctx, total), contextRetry(ctx));
}

async function getObjectOnce(s: S3Session, key: string, dest: string, ctx: ConnectorContext, total?: (bytes: number | undefined) => void): Promise<number> {
  const shown = `download of ${s3Location(s.a, key)}`;
  const res = await s.run(shown, () => s.client.send(new (sdk().GetObjectCommand)({ Bucket: s.a.bucket, Key: key }), { abortSignal: ctx.signal }));
  total?.(res.ContentLength);
  const body = res.Body as Readable | undefined;
  if (!body) throw new ConnectorError(`${s.where} (${S3_CONNECTOR}): ${shown}: the server sent no body`);
  const part = dest + '.part';
  let bytes = 0;
  body.on('data', (c: Buffer) => {
    bytes += c.length;
    s.progress?.add(c.length);
  });
  try {
    await pipeline(body, createWriteStream(part), { signal: ctx.signal });
    if (res.ContentLength !== undefined && res.ContentLength !== bytes) {
      throw new TransientConnectorError(`${s.where} (${S3_CONNECTOR}): ${shown} broke off: got ${bytes} of ${res.ContentLength} bytes`);
    }
    await rename(part, dest);
  } catch (err) {
    await rm(part, { force: true });
    s.progress?.takeBack(bytes);
    if (err instanceof ConnectorError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EISDIR' || e.code === 'ENOTDIR') {
      throw new ConnectorError(`${s.where} (${S3_CONNECTOR}): ${key} is both an object and a folder (keys ${key} and ${key}/…); a folder on disk cannot be both: rename one of them`);
    }
    // The connection dropped mid-body (the SDK retries requests, not a body being read): try this object again.
    const code = netCode(e);
    if (ctx.signal?.aborted || !(code || isTransientNetError(err) || e.name === 'TimeoutError')) throw s.error(err, `${shown} broke off after ${bytes} bytes`);
    const cause = e.name === 'TimeoutError' ? `no data for ${s.a.timeoutS} s` : code ? describeNetError({ ...e, code, message: e.message }) : e.message;
    throw new TransientConnectorError(`${s.where} (${S3_CONNECTOR}): ${shown} broke off after ${bytes} bytes: ${cause}`);
  }
  return bytes;
}

/** The local path (under `root`) of `rel`, a key below the prefix; refuses keys that are not plain relative paths. */
function localPathOf(root: string, rel: string, key: string, where: string): string {
  const segments = rel.split('/');
  if (segments.some(seg => !isSafeSegment(seg))) {
    throw new ConnectorError(`${where} (${S3_CONNECTOR}): the bucket has the key ${JSON.stringify(key)}, which is not a plain path below the prefix (an empty, '.' or '..' part, or a backslash); refusing it`);
  }
  return path.join(root, ...segments);
}

/** Every object under `prefix` into `local` (which it creates); returns how many objects. */
async function receiveTree(s: S3Session, prefix: string, local: string, ctx: ConnectorContext): Promise<number> {
  await mkdir(local, { recursive: true });
  const { ListObjectsV2Command } = sdk();
  let token: string | undefined;
  let objects = 0;
  let seen = 0;
  do {
    const page = await s.run(`listing of ${s3Location(s.a, prefix)}`, () =>
      s.client.send(new ListObjectsV2Command({ Bucket: s.a.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: ctx.signal })
    );
    for (const o of page.Contents ?? []) {
      const key = o.Key ?? '';
      seen++;
      if (!key.startsWith(prefix)) continue;
      const rel = key.slice(prefix.length);
      if (rel === '') continue; // the prefix's own folder marker
      if (rel.endsWith('/')) {
        // A folder marker (an empty object named like a folder): the folder, even when empty.
        await mkdir(localPathOf(local, rel.slice(0, -1), key, s.where), { recursive: true });
        continue;
      }
      const dest = localPathOf(local, rel, key, s.where);
      await mkdir(path.dirname(dest), { recursive: true }).catch(err => {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
          throw new ConnectorError(`${s.where} (${S3_CONNECTOR}): ${key} lies below a key that is also an object; a folder on disk cannot be both: rename one of them`);
        }
        throw err;
      });
      await getObject(s, key, dest, ctx);
      objects++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (seen === 0) {
    throw new ConnectorError(
      `${s.where} (${S3_CONNECTOR}): ${prefix ? `no object has the prefix ${prefix}` : 'the bucket is empty'} in bucket ${s.a.bucket}; check access.prefix of ${s.where}`
    );
  }
  return objects;
}

/** What `listing` names below `prefix` (a listed folder without its own listing: all of it). */
async function receiveListing(s: S3Session, prefix: string, listing: ListingEntry[], local: string, ctx: ConnectorContext, rel = ''): Promise<void> {
  await mkdir(local, { recursive: true });
  for (const entry of listing) {
    const shown = rel ? `${rel}/${entry?.basename}` : String(entry?.basename);
    if (!entry || !isSafeSegment(entry.basename)) {
      throw new ConnectorError(`${s.where}: listing entry ${JSON.stringify(entry?.basename)} at ${rel || '(top)'} is not a plain file or folder name (no '/', '.', '..')`);
    }
    const key = prefix + entry.basename;
    const l = path.join(local, entry.basename);
    if (entry.class === 'Directory') {
      if (entry.listing) await receiveListing(s, key + '/', entry.listing, l, ctx, shown);
      else await receiveTree(s, key + '/', l, ctx);
    } else if (entry.class === 'File') await getObject(s, key, l, ctx);
    else throw new ConnectorError(`${s.where}: listing entry ${shown} has class ${String((entry as { class?: unknown }).class)}; use File or Directory`);
  }
}

/** Uploads one local file to `key`: one PUT up to a part, else a multipart upload (aborted on failure). */
async function putObject(s: S3Session, file: string, key: string, ctx: ConnectorContext, partSize: number): Promise<void> {
  const shown = `upload to ${s3Location(s.a, key)}`;
  // Not through a link (the file is the output's, not what a link in it points at); a FIFO must not block the open.
  const fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  let body: Readable | undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ConnectorError(`${s.where} (${S3_CONNECTOR}): ${file} is not a plain file; nothing sent`);
    const size = Math.max(partSize, Math.ceil(st.size / MAX_PARTS));
    body = fh.createReadStream(); // closes the file when it ends or is destroyed
    const upload = new (sdk().Upload)({
      client: s.client,
      params: { Bucket: s.a.bucket, Key: key, Body: body, ContentLength: st.size },
      partSize: size,
      queueSize: UPLOAD_QUEUE,
      leavePartsOnError: false
    });
    let sent = 0;
    upload.on('httpUploadProgress', p => {
      // `loaded` counts this file's bytes so far (parts finish out of order: only growth counts).
      if (p.loaded !== undefined && p.loaded > sent) {
        s.progress?.add(p.loaded - sent);
        sent = p.loaded;
      }
    });
    const abort = () => void upload.abort().catch(() => undefined);
    ctx.signal?.addEventListener('abort', abort, { once: true });
    try {
      await s.run(shown, () => upload.done());
    } catch (err) {
      s.progress?.takeBack(sent);
      throw err;
    } finally {
      ctx.signal?.removeEventListener('abort', abort);
    }
  } finally {
    if (body) body.destroy();
    else await fh.close();
  }
}

/** Uploads the folder `local` below `prefix`; empty folders become folder markers. Links and special files are skipped, with a note. */
async function sendTree(s: S3Session, local: string, prefix: string, ctx: ConnectorContext, partSize: number): Promise<number> {
  let sent = 0;
  const entries = await readdir(local, { withFileTypes: true });
  if (!entries.length && prefix) {
    await s.run(`creating the folder ${s3Location(s.a, prefix)}`, () =>
      s.client.send(new (sdk().PutObjectCommand)({ Bucket: s.a.bucket, Key: prefix, Body: new Uint8Array(0), ContentLength: 0 }), { abortSignal: ctx.signal })
    );
  }
  for (const d of entries) {
    const l = path.join(local, d.name);
    if (d.isDirectory()) sent += await sendTree(s, l, `${prefix}${d.name}/`, ctx, partSize);
    else if (d.isFile()) {
      await putObject(s, l, prefix + d.name, ctx, partSize);
      sent++;
    } else ctx.onInfo?.(`${s.where}: skipped ${l} (a link or special file; links are not followed)`);
  }
  return sent;
}

/**
 * A HEAD of a File input's object, for the input cache: the source is where the object is and
 * the access key id (never the secret), the validator its ETag, size and modification time.
 * Undefined (not cached) for a Directory, an object with neither ETag nor modification time, or
 * a HEAD refused (then staging's download names the problem).
 */
async function identifyS3File(req: InputStageRequest, ctx: ConnectorContext, policy: HostPolicy): Promise<SourceIdentity | undefined> {
  if (req.value.class !== 'File') return undefined;
  const where = `input ${req.label}`;
  const a = parseS3Access(req.value.connector.access, where, 'File');
  const s = await S3Session.open(a, where, ctx, policy);
  try {
    const key = a.key as string;
    let head;
    try {
      head = await s.client.send(new (sdk().HeadObjectCommand)({ Bucket: a.bucket, Key: key }), { abortSignal: ctx.signal });
    } catch (err) {
      // A refused HEAD has no body, so no error code (wrong secret, unknown key id, no bucket and
      // no object all read 403/404): not cached, and the download says precisely what is wrong.
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== undefined && status >= 400 && status < 500 && !ctx.signal?.aborted) return undefined;
      throw s.error(err, `looking up ${s3Location(a, key)}`);
    }
    if (!head.ETag && !head.LastModified) return undefined; // a size alone cannot tell an edit
    return {
      source: `${s3Location(a, key)}${a.endpoint ? '' : ` (${a.region})`} as ${a.accessKeyId}`,
      validator: JSON.stringify({ etag: head.ETag, size: head.ContentLength ?? null, modified: head.LastModified?.toISOString() ?? null })
    };
  } finally {
    s.close();
  }
}

/** redlab-connector-s3 (input and output) reaching only the hosts `policy` allows. */
export function createS3Connectors(opts: S3ConnectorOptions = {}): { input: InputConnector; output: OutputConnector } {
  const policy = opts.policy ?? new HostPolicy();
  const partSize = opts.partSize ?? DEFAULT_PART_SIZE;
  if (partSize < MIN_PART_SIZE) throw new Error(`S3 part size ${partSize} is below S3's minimum of 5 MiB`);
  const input: InputConnector = {
    command: S3_CONNECTOR,
    classes: ['File', 'Directory'],
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      if (req.value.connector.mount) throw new ConnectorError(`${where} (${S3_CONNECTOR}): mount: true is not supported for S3; remove it to download the objects before the run`);
      const a = parseS3Access(req.value.connector.access, where, req.value.class);
      const s = await S3Session.open(a, where, ctx, policy);
      const progress = (s.progress = new TransferCounter(ctx, 'input', req.label));
      try {
        if (req.value.class === 'File') {
          const bytes = await getObject(s, a.key as string, req.dest, ctx, size => progress.setTotal(size));
          progress.done();
          ctx.onInfo?.(`${where}: received ${s3Location(a, a.key as string)} (${bytes} bytes)`);
          return { hostPath: req.dest, copied: true };
        }
        const prefix = a.prefix as string;
        if (req.value.listing) await receiveListing(s, prefix, req.value.listing, req.dest, ctx);
        else {
          const n = await receiveTree(s, prefix, req.dest, ctx);
          ctx.onInfo?.(`${where}: received ${n} object${n === 1 ? '' : 's'} under ${s3Location(a, prefix)}`);
        }
        progress.done();
        return { hostPath: req.dest, copied: true, ...(req.value.listing ? { listing: req.value.listing } : {}) };
      } catch (err) {
        await rm(req.dest, { recursive: true, force: true });
        throw err;
      } finally {
        s.close();
      }
    },
    identify: (req, ctx) => identifyS3File(req, ctx, policy)
  };
  const output: OutputConnector = {
    command: S3_CONNECTOR,
    classes: ['File', 'Directory'],
    async send(req: OutputSendRequest, ctx: ConnectorContext): Promise<{ target: string }> {
      const where = `output ${req.key}`;
      const a = parseS3Access(req.access, where, req.class);
      const st = await lstat(req.hostPath);
      if (req.class === 'File' ? !st.isFile() : !st.isDirectory()) {
        throw new ConnectorError(`${where} (${S3_CONNECTOR}): ${req.hostPath} is not a ${req.class === 'File' ? 'plain file' : 'folder'}; nothing sent`);
      }
      const s = await S3Session.open(a, where, ctx, policy);
      const progress = (s.progress = new TransferCounter(ctx, 'output', req.key, req.class === 'File' ? st.size : undefined));
      try {
        if (req.class === 'File') {
          await putObject(s, req.hostPath, a.key as string, ctx, partSize);
          progress.done();
          return { target: s3Location(a, a.key as string) };
        }
        const n = await sendTree(s, req.hostPath, a.prefix as string, ctx, partSize);
        progress.done();
        ctx.onInfo?.(`${where}: sent ${n} file${n === 1 ? '' : 's'} to ${s3Location(a, a.prefix as string)}`);
        return { target: s3Location(a, a.prefix as string) };
      } finally {
        s.close();
      }
    }
  };
  return { input, output };
}
