// Image builds on the local Docker engine, named by content: the tag is
// `redlab-build:<first 16 hex of the context hash>`, so an unchanged Dockerfile and
// context is built once and found by tag afterwards (cached: true, no build).
//
// Builds use Docker's classic builder (`version=1` on POST /build): its JSON stream
// (`{"stream": "Step 2/3 : RUN …"}`, `{"aux": {"ID": …}}`, `{"error": …, "errorDetail": …}`)
// is what the progress events and errors are made from. Docker answers 200 before
// the build runs, so a failing build shows up only as an `error` message in that
// stream: it becomes a BuildError with the failing step and its last output lines.
//
// The cache key covers the Dockerfile and the context, not the base image's content:
// after the base image changed under the same name, pass `force: true` to rebuild.
// Two concurrent builds of the same spec both run (the second tag write wins; the
// images are equivalent).
import type Dockerode from 'dockerode';
import { Readable } from 'stream';
import { contextHash, DEFAULT_MAX_CONTEXT_BYTES, DOCKERFILE_NAME, entriesFromFiles, entriesFromTar, MAX_DOCKERFILE_BYTES, packContext, type ContextEntry } from './context';
import { environmentDockerfile } from './environment';
import { BuildError, BuildSpecError, type BuildOptions, type BuildProgressEvent, type BuildResult, type BuildSpec, type EnvironmentSpec } from './types';

export const BUILD_REPOSITORY = 'redlab-build';
/**
 * Label on every image the bridge builds ("1"). (Docker's classic builder adds one
 * step per label at the end of the build, so the bridge adds just this one.)
 */
export const BUILD_LABEL = 'redlab.build';

export interface PreparedBuild {
  tag: string;
  /** Full hex sha256 of Dockerfile and context. */
  hash: string;
  dockerfile: string;
  entries: ContextEntry[];
}

function isEnvironmentSpec(spec: BuildSpec): spec is EnvironmentSpec {
  return !!spec && typeof spec === 'object' && 'environment' in spec;
}

/**
 * Checks a spec and works out its Dockerfile, context entries and tag, without
 * building (for an environment spec, `baseUser` is the base image's USER; buildImage
 * looks it up). Throws BuildSpecError for a spec the bridge refuses.
 */
export async function prepareBuild(spec: BuildSpec, opts: { maxContextBytes?: number; baseUser?: string } = {}): Promise<PreparedBuild> {
  const maxBytes = opts.maxContextBytes ?? DEFAULT_MAX_CONTEXT_BYTES;
  let dockerfile: string;
  let entries: ContextEntry[];
  if (isEnvironmentSpec(spec)) {
    const env = environmentDockerfile(spec, { baseUser: opts.baseUser });
    dockerfile = env.dockerfile;
    entries = entriesFromFiles(env.files, maxBytes);
  } else {
    if (!spec || typeof spec.dockerfile !== 'string') throw new BuildSpecError('a build spec has a `dockerfile` (its text) or an `environment` and a `baseImage`');
    dockerfile = spec.dockerfile;
    const size = Buffer.byteLength(dockerfile, 'utf8');
    if (size > MAX_DOCKERFILE_BYTES) throw new BuildSpecError(`the Dockerfile is ${size} bytes, more than the limit of ${MAX_DOCKERFILE_BYTES} (1 MB)`);
    const ctx = spec.context;
    if (ctx === undefined) entries = [];
    else if (Buffer.isBuffer(ctx)) entries = await entriesFromTar(ctx, maxBytes);
    else entries = entriesFromFiles(ctx, maxBytes);
  }
  const hash = contextHash(dockerfile, entries);
  return { tag: `${BUILD_REPOSITORY}:${hash.slice(0, 16)}`, hash, dockerfile, entries };
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error('image build cancelled');
  err.name = 'AbortError';
  return err;
}

async function imageId(docker: Dockerode, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

async function baseUserOf(docker: Dockerode, image: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(image).inspect()).Config?.User || undefined;
  } catch (err) {
    // Not here yet: FROM will pull it (or fail saying so); assume it runs as root.
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

const STEP = /^Step (\d+)\/(\d+) : /;
/** Docker colours a RUN's stderr red (SGR escapes): output lines are plain text. */
const SGR = /\x1b\[[0-9;]*m/g;
/** Builder chatter that is not a step's own output. */
const CHATTER = /^( ---> |Removing intermediate container |Successfully built |Successfully tagged )/;

interface BuildMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

/**
 * Builds `spec` (or finds it built), tags it `redlab-build:<hash16>` and returns the
 * tag, the image ID and whether it was cached. Progress lines go to `onProgress`.
 * Throws BuildSpecError (refused spec), BuildError (Docker's build failed), an
 * AbortError (signal), or dockerode's error (engine unreachable …).
 */
export async function buildImage(docker: Dockerode, spec: BuildSpec, opts: BuildOptions = {}): Promise<BuildResult> {
  const { signal, onProgress } = opts;
  if (signal?.aborted) throw abortError(signal);
  const baseUser = isEnvironmentSpec(spec) && typeof spec.baseImage === 'string' ? await baseUserOf(docker, spec.baseImage) : undefined;
  const prepared = await prepareBuild(spec, { maxContextBytes: opts.maxContextBytes, baseUser });
  const { tag, dockerfile } = prepared;

  if (!opts.force && !opts.noCache) {
    const id = await imageId(docker, tag);
    if (id) return { tag, id, cached: true, dockerfile };
  }
  if (signal?.aborted) throw abortError(signal);

  const archive = await packContext(dockerfile, prepared.entries);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(Readable.from([archive]), {
      t: tag,
      dockerfile: DOCKERFILE_NAME,
      version: '1',
      rm: true,
      forcerm: true,
      nocache: !!opts.noCache,
      labels: { ...opts.labels, [BUILD_LABEL]: '1' },
      abortSignal: signal
    });
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined) {
      // Docker refused the build before it started (e.g. a Dockerfile parse error).
      const msg = String((err as Error).message).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
      throw new BuildError(msg, undefined, [], dockerfile);
    }
    throw err;
  }

  const tailMax = opts.errorTailLines ?? 50;
  let step: string | undefined;
  let stepIndex: number | undefined;
  let stepCount: number | undefined;
  let stepOutput: string[] = [];
  let pending = '';
  let error: string | undefined;
  let auxId: string | undefined;
  const lastStatus = new Map<string, string>();

  const emit = (line: string) => {
    const m = STEP.exec(line);
    if (m) {
      step = line;
      stepIndex = Number(m[1]);
      stepCount = Number(m[2]);
      stepOutput = [];
    } else if (!CHATTER.test(line)) {
      stepOutput.push(line);
      if (stepOutput.length > tailMax) stepOutput.shift();
    }
    if (onProgress) {
      const e: BuildProgressEvent = { type: 'build-progress', line };
      if (step !== undefined) Object.assign(e, { step, stepIndex, stepCount });
      try {
        onProgress(e);
      } catch {
        /* a listener's failure is not the build's */
      }
    }
  };
  const onText = (text: string) => {
    pending += text;
    const parts = pending.split(/\r?\n/);
    pending = parts.pop() ?? '';
    for (const p of parts) emit(p.replace(SGR, '').replace(/\r/g, ''));
  };
  const onMessage = (msg: BuildMessage) => {
    if (typeof msg.stream === 'string') onText(msg.stream);
    if (msg.aux?.ID) auxId = msg.aux.ID;
    if (typeof msg.status === 'string') {
      // Pulls of the base image: one line per layer and status, not per progress tick.
      const key = msg.id ?? '';
      if (lastStatus.get(key) !== msg.status) {
        lastStatus.set(key, msg.status);
        emit(`${msg.id ? msg.id + ': ' : ''}${msg.status}`);
      }
    }
    if (msg.error || msg.errorDetail) error = msg.errorDetail?.message || msg.error || 'unknown error';
  };

  await new Promise<void>((resolve, reject) => {
    let buf = '';
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => {
      (stream as Readable).destroy?.();
      finish(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', (chunk: Buffer | string) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          onMessage(JSON.parse(line) as BuildMessage);
        } catch {
          onText(line + '\n'); // not JSON: keep it as output
        }
      }
    });
    stream.on('end', () => {
      if (buf.trim()) {
        try {
          onMessage(JSON.parse(buf) as BuildMessage);
        } catch {
          onText(buf);
        }
      }
      finish();
    });
    stream.on('error', err => finish(signal?.aborted ? abortError(signal) : err));
  });
  if (pending) onText('\n');
  if (signal?.aborted) throw abortError(signal);
  if (error !== undefined) throw new BuildError(error, step, stepOutput, dockerfile);

  const id = (await imageId(docker, tag)) ?? auxId;
  if (!id) throw new BuildError(`Docker reported no error, but there is no image ${tag}`, step, stepOutput, dockerfile);
  return { tag, id, cached: false, dockerfile };
}
