// The container image: used as is when the engine has it, pulled otherwise (with
// container.settings.image.auth), with layer progress as events. A pull that cannot
// reach a registry says so and how to provide the image offline.
import type Docker from 'dockerode';
import type { RunEvent } from '../../../src/red';

export interface ResolvedImage {
  url: string;
  /** Local image ID (sha256:…). */
  id: string;
  /** RepoDigest (`name@sha256:…`) when the image came from a registry. */
  digest?: string;
  pulled: boolean;
}

export class ImageUnavailableError extends Error {
  constructor(message: string, readonly reason: 'unreachable' | 'not-found' | 'denied' | 'other') {
    super(message);
    this.name = 'ImageUnavailableError';
  }
}

type PullEvent = Extract<RunEvent, { type: 'pull-progress' }>;

export interface EnsureImageOptions {
  auth?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (e: PullEvent) => void;
  /** 'missing' (default): pull only when absent; 'never': fail when absent. */
  pull?: 'missing' | 'never';
}

/** `registry.example.org:5000/team/img:tag` → `registry.example.org:5000`; Docker Hub names → undefined. */
export function registryOf(url: string): string | undefined {
  const first = url.split('/')[0];
  if (!url.includes('/')) return undefined;
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/** Repository part of an image reference (no tag, no digest). */
export function repositoryOf(url: string): string {
  const noDigest = url.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > lastSlash ? noDigest.slice(0, colon) : noDigest;
}

function pickDigest(url: string, repoDigests: string[] | undefined): string | undefined {
  if (!repoDigests || !repoDigests.length) return undefined;
  const repo = repositoryOf(url);
  const norm = (r: string) => r.replace(/^docker\.io\//, '').replace(/^library\//, '');
  return repoDigests.find(d => norm(repositoryOf(d)) === norm(repo)) ?? repoDigests[0];
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

/** Docker's message without dockerode's "(HTTP code 500) server error - " prefix. */
export function dockerMessage(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  const m = e?.json?.message ?? e?.message ?? String(err);
  return String(m).replace(/^\(HTTP code \d+\)\s*[\w ]*-\s*/, '').trim();
}

export function classifyPullError(message: string): ImageUnavailableError['reason'] {
  const m = message.toLowerCase();
  if (/no such host|lookup |dial tcp|connection refused|i\/o timeout|network is unreachable|tls handshake timeout|server misbehaving|timeout exceeded|no route to host|temporary failure in name resolution/.test(m)) return 'unreachable';
  if (/unauthorized|authentication required|incorrect username or password|denied: /.test(m) && !/repository does not exist/.test(m)) return 'denied';
  if (/not found|manifest unknown|name unknown|repository does not exist|pull access denied|no such image/.test(m)) return 'not-found';
  return 'other';
}

export function imageUnavailable(url: string, dockerMsg: string): ImageUnavailableError {
  const reason = classifyPullError(dockerMsg);
  const why = {
    unreachable: 'no registry is reachable from the Docker engine (offline, DNS or proxy problem)',
    'not-found': 'the registry has no such image (check container.settings.image.url, or it is private: add image.auth)',
    denied: 'the registry refused the credentials (check container.settings.image.auth username and password)',
    other: 'the pull failed'
  }[reason];
  const provide =
    `To provide it without a registry: load a saved copy (\`docker load -i image.tar\`, made elsewhere with \`docker save ${url} -o image.tar\`), ` +
    `tag an image you have (\`docker tag LOCAL_IMAGE ${url}\`), or build it (\`docker build -t ${url} .\`).`;
  return new ImageUnavailableError(`image ${url} is not on this machine and could not be pulled: ${why}. Docker said: ${dockerMsg}. ${provide}`, reason);
}

async function inspect(docker: Docker, url: string): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(url).inspect();
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

export async function ensureImage(docker: Docker, url: string, opts: EnsureImageOptions = {}): Promise<ResolvedImage> {
  const local = await inspect(docker, url);
  if (local) return { url, id: local.Id, digest: pickDigest(url, local.RepoDigests), pulled: false };
  if (opts.pull === 'never') {
    throw new ImageUnavailableError(`image ${url} is not on this machine and pulling is off. Load it (\`docker load -i image.tar\`), tag it (\`docker tag LOCAL_IMAGE ${url}\`) or build it.`, 'not-found');
  }
  const authconfig = toAuthConfig(url, opts.auth);
  let stream: NodeJS.ReadableStream;
  try {
    // authconfig in the options becomes the X-Registry-Auth header (docker-modem removes it from the query).
    stream = await docker.pull(url, { abortSignal: opts.signal, ...(authconfig ? { authconfig } : {}) });
  } catch (err) {
    if (opts.signal?.aborted) throw new Error('cancelled while pulling');
    throw imageUnavailable(url, dockerMessage(err));
  }
  const streamError = await new Promise<string | undefined>((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      err => {
        if (opts.signal?.aborted) return reject(new Error('cancelled while pulling'));
        if (err) return resolve(dockerMessage(err));
        resolve(failure);
      },
      (ev: { id?: string; status?: string; error?: string; errorDetail?: { message?: string }; progressDetail?: { current?: number; total?: number } }) => {
        if (ev.error || ev.errorDetail) {
          failure = ev.errorDetail?.message ?? ev.error;
          return;
        }
        opts.onProgress?.({
          type: 'pull-progress',
          layer: ev.id,
          status: ev.status ?? '',
          current: ev.progressDetail?.current,
          total: ev.progressDetail?.total
        });
      }
    );
  });
  if (streamError) throw imageUnavailable(url, streamError);
  const pulled = await inspect(docker, url);
  if (!pulled) throw imageUnavailable(url, 'the pull ended but the engine has no such image');
  return { url, id: pulled.Id, digest: pickDigest(url, pulled.RepoDigests), pulled: true };
}

/** container.settings.image.auth {username, password} → Docker's X-Registry-Auth object. */
export function toAuthConfig(url: string, auth: Record<string, unknown> | undefined): Docker.AuthConfig | undefined {
  if (!auth) return undefined;
  const username = auth.username;
  const password = auth.password;
  if (typeof username !== 'string' || typeof password !== 'string') return undefined;
  const serveraddress = registryOf(url) ?? 'https://index.docker.io/v1/';
  return { username, password, serveraddress };
}
