// /api/v1/images: build (NDJSON progress stream) and list.
//
// A build answers 200 with `application/x-ndjson` once it has something to say: one
// line per build-progress event, then a last line `{type: "result", …}` or
// `{type: "error", …}`. Docker's own build answers 200 even when the build fails, so
// failure is only known at the end; buildImage finds it, and it becomes the error
// line. A spec refused before Docker is asked (BuildSpecError) gets a 400 JSON answer
// instead, as nothing has been streamed yet. A client that disconnects cancels its build.
// Builds and lists go to an engine's `images` (query or JSON key `engine`, default the
// bridge's default engine); an engine without image builds gets a 409 saying so.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_MAX_CONTEXT_BYTES, entriesFromTar, normalizeContextPath, prepareBuild } from '../../images';
import type { EngineImages } from '../../engine/types';
import { BuildError, BuildSpecError, type BuildOptions, type BuildProgressEvent, type BuildSpec, type ContextFile } from '../../images/types';
import type { RunService } from '../service';
import { addJsonParser, addTarParser, JSON_TYPES, JsonBody, TAR_TYPES, TarBody } from './body';
import { HttpError, mib } from './errors';
import { flagParam, onlyParams, single, type Query } from './params';

export interface ImageRouteOptions {
  /** Largest build context (default 200 MiB). */
  maxContextBytes?: number;
  /** Builds running at once through the API (default 4); more get 429. */
  maxConcurrentBuilds?: number;
  /** Output buffered for a slow client before progress lines are dropped (default 8 MiB). */
  maxBufferedProgressBytes?: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_FILES = 10_000;

interface BuildRequest {
  spec: BuildSpec;
  force: boolean;
  noCache: boolean;
  /** The engine named in the JSON spec (the query's `engine` otherwise). */
  engine?: string;
}

/** The images of the engine named `name` (the default when absent): 422 for an unknown name, 409 for an engine without images. */
function engineImages(service: RunService, name: string | undefined, what: 'build' | 'list'): EngineImages {
  const names = service.engines.names;
  const listed = (ns: string[]) => ns.map(n => JSON.stringify(n)).join(', ');
  if (name !== undefined && !names.includes(name)) {
    throw new HttpError(422, `engine: there is no engine ${JSON.stringify(name)} in this bridge; it has ${listed(names)}: give one of them, or leave engine out for the default (${service.engines.defaultName})`);
  }
  const engine = service.engines.get(name);
  if (!engine.images) {
    const able = service.engines.all().filter(e => e.images).map(e => e.name);
    throw new HttpError(409, `the ${engine.name} engine cannot ${what} images: ${able.length ? `use engine=${able.join(' or engine=')}` : 'no engine of this bridge has image builds'}`);
  }
  return engine.images;
}

function filesFrom(v: unknown): ContextFile[] {
  if (!Array.isArray(v)) throw new BuildSpecError('"files" must be a list of {"path": …, "content": …} (or "contentBase64")');
  if (v.length > MAX_FILES) throw new BuildSpecError(`"files" has ${v.length} entries, more than the limit of ${MAX_FILES}: send a tar archive instead`);
  return v.map((f, i): ContextFile => {
    if (!isPlainObject(f)) throw new BuildSpecError(`files[${i}] must be an object {"path": …, "content": …}`);
    for (const k of Object.keys(f)) {
      if (!['path', 'content', 'contentBase64', 'mode'].includes(k)) throw new BuildSpecError(`files[${i}] has an unknown key ${JSON.stringify(k)}: a file is {path, content | contentBase64, mode?}`);
    }
    if (typeof f.path !== 'string') throw new BuildSpecError(`files[${i}].path must be a relative path as text`);
    const path = normalizeContextPath(f.path);
    const hasText = f.content !== undefined;
    const hasB64 = f.contentBase64 !== undefined;
    if (hasText === hasB64) throw new BuildSpecError(`files[${i}] (${path}) needs exactly one of "content" (UTF-8 text) and "contentBase64"`);
    let content: Buffer | string;
    if (hasText) {
      if (typeof f.content !== 'string') throw new BuildSpecError(`files[${i}].content must be text; send bytes as "contentBase64"`);
      content = f.content;
    } else {
      const b = typeof f.contentBase64 === 'string' ? f.contentBase64.replace(/\s+/g, '') : undefined;
      if (b === undefined || b.length % 4 !== 0 || !BASE64.test(b)) throw new BuildSpecError(`files[${i}].contentBase64 (${path}) is not base64`);
      content = Buffer.from(b, 'base64');
    }
    const file: ContextFile = { path, content };
    if (f.mode !== undefined) {
      if (typeof f.mode !== 'number' || !Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o7777) throw new BuildSpecError(`files[${i}].mode must be permission bits (0 to 4095, e.g. 493 for 0755)`);
      file.mode = f.mode;
    }
    return file;
  });
}

function specFromJson(v: unknown, q: Query): BuildRequest {
  if (!isPlainObject(v)) throw new BuildSpecError('send {"dockerfile": …, "files": […]} or {"environment": {…}, "baseImage": …} as a JSON object');
  const known = ['dockerfile', 'files', 'environment', 'baseImage', 'force', 'noCache', 'engine'];
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw new BuildSpecError(`unknown key ${JSON.stringify(k)} in the build spec: it takes ${known.join(', ')}`);
  }
  for (const k of ['force', 'noCache'] as const) {
    if (v[k] !== undefined && typeof v[k] !== 'boolean') throw new BuildSpecError(`"${k}" must be true or false`);
  }
  if (v.engine !== undefined && (typeof v.engine !== 'string' || !v.engine)) throw new BuildSpecError('"engine" must be an engine\'s name as text (GET /health lists them)');
  const engine = v.engine as string | undefined;
  const force = v.force === true || flagParam(q, 'force');
  const noCache = v.noCache === true || flagParam(q, 'noCache');
  if (v.environment !== undefined || v.baseImage !== undefined) {
    if (v.dockerfile !== undefined || v.files !== undefined) throw new BuildSpecError('a build spec has either "dockerfile" (and "files") or "environment" and "baseImage", not both');
    const env = v.environment;
    if (!isPlainObject(env)) throw new BuildSpecError('"environment" must be an object {requirementsTxt?, environmentYml?, aptTxt?}');
    for (const k of Object.keys(env)) {
      if (!['requirementsTxt', 'environmentYml', 'aptTxt'].includes(k)) throw new BuildSpecError(`unknown key ${JSON.stringify(k)} in "environment": it takes requirementsTxt, environmentYml, aptTxt`);
    }
    if (typeof v.baseImage !== 'string') throw new BuildSpecError('"baseImage" must be an image reference as text, e.g. "redlab/debian-python:12"');
    return { spec: { environment: env as { requirementsTxt?: string; environmentYml?: string; aptTxt?: string }, baseImage: v.baseImage }, force, noCache, engine };
  }
  if (typeof v.dockerfile !== 'string') throw new BuildSpecError('the build spec needs "dockerfile" (the Dockerfile\'s text), or "environment" and "baseImage"');
  const spec: BuildSpec = { dockerfile: v.dockerfile };
  if (v.files !== undefined) spec.context = filesFrom(v.files);
  return { spec, force, noCache, engine };
}

async function specFromTar(data: Buffer, q: Query, maxBytes: number): Promise<BuildRequest> {
  const entries = await entriesFromTar(data, maxBytes);
  const dfPath = normalizeContextPath(single(q, 'dockerfile') ?? 'Dockerfile');
  const df = entries.find(e => e.path === dfPath && e.type === 'file');
  if (!df) {
    const top = [...new Set(entries.map(e => e.path.split('/')[0]))].slice(0, 20);
    throw new BuildSpecError(`the archive has no file ${dfPath} at its root${top.length ? ` (it has: ${top.join(', ')})` : ' (it is empty)'}: add one, or name it with ?dockerfile=PATH`);
  }
  const context: ContextFile[] = entries.filter(e => e.type === 'file').map(e => ({ path: e.path, content: e.content, mode: e.mode }));
  return { spec: { dockerfile: df.content.toString('utf8'), context }, force: flagParam(q, 'force'), noCache: flagParam(q, 'noCache') };
}

/** Whether an error came from talking to Docker (socket, HTTP status). */
function dockerMessage(err: unknown): string {
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (e?.code === 'ENOENT' || e?.code === 'ECONNREFUSED' || e?.code === 'EACCES') return `Docker is not reachable (${e.code}): is the Docker daemon running, and may the bridge use its socket?`;
  const msg = String(e?.message ?? err).replace(/^\(HTTP code \d+\) [^-]*- /, '').split('\n')[0].slice(0, 500);
  return `Docker failed: ${msg}`;
}

export function registerImageRoutes(app: FastifyInstance, service: RunService, opts: ImageRouteOptions, builds: Set<AbortController>): void {
  const maxBytes = opts.maxContextBytes ?? DEFAULT_MAX_CONTEXT_BYTES;
  const maxBuilds = opts.maxConcurrentBuilds ?? 4;
  const maxBuffered = opts.maxBufferedProgressBytes ?? 8 * 1024 * 1024;
  let running = 0;

  app.register(async scope => {
    addJsonParser(scope);
    addTarParser(scope);
    // JSON carries file contents as base64 (4/3 of their size): leave room for that.
    const bodyLimit = Math.ceil((maxBytes * 4) / 3) + 1024 * 1024;
    scope.post('/images/build', { bodyLimit, config: { accepts: [...JSON_TYPES, ...TAR_TYPES] } }, async (req: FastifyRequest, reply: FastifyReply) => {
      const q = req.query as Query;
      onlyParams(q, ['force', 'noCache', 'dockerfile', 'engine']);
      const body = req.body;
      let build: BuildRequest;
      if (body instanceof JsonBody) {
        if (single(q, 'dockerfile') !== undefined) throw new HttpError(400, 'query parameter dockerfile is for tar archives: put the Dockerfile\'s text in "dockerfile"');
        build = specFromJson(body.value, q);
      } else if (body instanceof TarBody) {
        if (body.data.length > maxBytes) throw new HttpError(413, `the build context archive is ${mib(body.data.length)}, more than the limit of ${mib(maxBytes)}`, { limit: maxBytes });
        build = await specFromTar(body.data, q, maxBytes);
      } else {
        throw new HttpError(400, 'send a build spec: JSON {"dockerfile": …, "files": […]} or {"environment": {…}, "baseImage": …}, or a tar archive (Content-Type: application/x-tar) with a Dockerfile');
      }
      if (build.engine !== undefined && single(q, 'engine') !== undefined && build.engine !== single(q, 'engine')) {
        throw new HttpError(400, `the query says engine=${single(q, 'engine')} and the spec says "engine": ${JSON.stringify(build.engine)}: give it once`);
      }
      const images = engineImages(service, build.engine ?? single(q, 'engine'), 'build');
      // Every check buildImage makes before Docker is asked, made now: a refused spec is a 400.
      await prepareBuild(build.spec, { maxContextBytes: maxBytes });
      if (running >= maxBuilds) throw new HttpError(429, `${running} image builds are running: wait for one to finish and try again`, {}, { 'retry-after': '10' });

      running++;
      const ac = new AbortController();
      builds.add(ac);
      const res = reply.raw;
      let started = false;
      let dropped = 0;
      const start = () => {
        if (started) return;
        started = true;
        reply.hijack();
        const headers: Record<string, string | number | string[]> = {};
        for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string | number | string[];
        res.writeHead(200, { ...headers, 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      };
      const line = (o: unknown) => {
        start();
        if (!res.destroyed) res.write(JSON.stringify(o) + '\n');
      };
      const onClose = () => {
        if (!res.writableEnded) ac.abort();
      };
      res.on('close', onClose);
      const buildOpts: BuildOptions = {
        signal: ac.signal,
        maxContextBytes: maxBytes,
        force: build.force,
        noCache: build.noCache,
        onProgress: (e: BuildProgressEvent) => {
          // A client that does not read cannot make the bridge buffer a build's whole output.
          if (started && res.writableLength > maxBuffered) dropped++;
          else line(e);
        }
      };
      try {
        const r = await images.build(build.spec, buildOpts);
        line({ type: 'result', tag: r.tag, id: r.id, cached: r.cached, dockerfile: r.dockerfile, ...(dropped ? { droppedProgressLines: dropped } : {}) });
      } catch (err) {
        if (ac.signal.aborted) {
          // The client went away (or the bridge is closing): nobody to answer.
          if (!started) reply.hijack();
          if (!res.destroyed) res.destroy();
          return reply;
        }
        if (err instanceof BuildError) {
          line({
            type: 'error',
            message: `image build failed${err.step ? ` at ${err.step}` : ''}: ${err.dockerError}`,
            step: err.step ?? null,
            output: err.output,
            dockerError: err.dockerError,
            dockerfile: err.dockerfile
          });
        } else if (!started) {
          if (err instanceof BuildSpecError || err instanceof HttpError) throw err;
          req.log.error({ err }, 'image build failed');
          throw new HttpError(502, dockerMessage(err));
        } else {
          req.log.error({ err }, 'image build failed');
          line({ type: 'error', message: dockerMessage(err), step: null, output: [] });
        }
      } finally {
        running--;
        builds.delete(ac);
        res.off('close', onClose);
      }
      if (started && !res.writableEnded) res.end();
      return reply;
    });
  });

  app.get('/images', async req => {
    const q = req.query as Query;
    onlyParams(q, ['builtOnly', 'engine']);
    const builtOnly = flagParam(q, 'builtOnly');
    const images = engineImages(service, single(q, 'engine'), 'list');
    try {
      return { images: await images.list({ builtOnly }) };
    } catch (err) {
      req.log.error({ err }, 'listing images failed');
      throw new HttpError(502, dockerMessage(err));
    }
  });
}
