// Output downloads. Only files the run record lists are served, by the host path the
// engine recorded: the request names an output (a key of the record), never a path.
// The file must lie in the run's folder and is opened there without following a link
// in any component (util/safe-fs.ts), must be a regular file and still have the
// recorded size (else it changed since the run, and its recorded sha256, the ETag,
// would be a lie).
import type { FileHandle } from 'fs/promises';
import * as path from 'path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FileRecord } from '../../../../src/red';
import type { RunRecord } from '../../store/types';
import { isWithin } from '../../util/fs-safety';
import { SafeDir, UnsafePathError, withDir } from '../../util/safe-fs';
import { HttpError } from './errors';

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  json: 'application/json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  zip: 'application/zip'
};

/** Content-Type from a file name's extension (application/octet-stream when unknown). */
export function contentTypeOf(file: string): string {
  const ext = path.extname(file).slice(1).toLowerCase();
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/**
 * The FileRecord of output `name` (of batch `batch`, or of the run when it has one
 * batch), or an HttpError saying what exists.
 */
export function findOutput(run: RunRecord, name: string, batch: number | undefined): FileRecord {
  let outputs: Record<string, FileRecord | null> | undefined;
  let where: string;
  if (batch !== undefined) {
    const b = run.batches.find(x => x.index === batch);
    const rb = run.result?.batches?.find(x => x.index === batch);
    if (!b && !rb) {
      const n = Math.max(run.batchCount, run.result?.batches?.length ?? 0);
      throw new HttpError(404, `run ${run.id} has no batch ${batch}${n ? `: batches are 0 to ${n - 1}` : ' (it has no batches yet)'}`);
    }
    outputs = b?.outputs ?? rb?.outputs;
    where = `batch ${batch} of run ${run.id}`;
  } else {
    const n = Math.max(run.batches.length, run.result?.batches?.length ?? 0);
    if (n > 1 && !run.result?.outputs) {
      throw new HttpError(400, `run ${run.id} has ${n} batches: add ?batch=N (0 to ${n - 1}) to name the batch whose output you want`);
    }
    outputs = run.result?.outputs ?? run.batches[0]?.outputs ?? run.result?.batches?.[0]?.outputs;
    where = `run ${run.id}`;
  }
  const names = outputs ? Object.keys(outputs).filter(k => outputs![k]) : [];
  const list = names.length ? `outputs that exist: ${names.join(', ')}` : 'it has no outputs (yet)';
  if (!outputs || !hasOwn(outputs, name)) {
    throw new HttpError(404, `${where} has no output ${JSON.stringify(name)}; ${list}`, { outputs: names });
  }
  const rec = outputs[name];
  if (!rec) throw new HttpError(404, `output ${JSON.stringify(name)} of ${where} was not produced (an optional output the run did not write); ${list}`, { outputs: names });
  if (rec.connector) {
    throw new HttpError(409, `output ${JSON.stringify(name)} of ${where} was sent through ${rec.connector}, not kept by the bridge: fetch it from there`);
  }
  if (rec.class === 'Directory') {
    throw new HttpError(409, `output ${JSON.stringify(name)} of ${where} is a directory, which the bridge does not download: make the RED's output a File (e.g. a .tar.gz the tool writes), or read the directory on the bridge's host`, { class: 'Directory' });
  }
  return rec;
}

type Range = { start: number; end: number };

/** Parses a Range header for a file of `size` bytes: undefined (no range), a range, or a 416. */
export function parseRange(header: string | undefined, size: number): Range | undefined {
  if (header === undefined) return undefined;
  const unsatisfiable = (msg: string) => new HttpError(416, msg, { size }, { 'content-range': `bytes */${size}` });
  const m = /^bytes=(.*)$/i.exec(header.trim());
  if (!m) throw unsatisfiable(`Range ${JSON.stringify(header.slice(0, 60))} is not a byte range: send e.g. Range: bytes=0-1023`);
  const specs = m[1].split(',').map(s => s.trim());
  if (specs.length !== 1) throw unsatisfiable('only one range per request is supported: send e.g. Range: bytes=0-1023');
  const r = /^(\d{0,16})-(\d{0,16})$/.exec(specs[0]);
  if (!r || (r[1] === '' && r[2] === '')) throw unsatisfiable(`Range ${JSON.stringify(header.slice(0, 60))} is malformed: send bytes=START-END, bytes=START- or bytes=-LAST`);
  let start: number;
  let end: number;
  if (r[1] === '') {
    const suffix = Number(r[2]);
    if (suffix === 0) throw unsatisfiable('Range bytes=-0 asks for no bytes');
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(r[1]);
    end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (r[2] !== '' && Number(r[2]) < start) throw unsatisfiable(`Range ${specs[0]} ends before it starts`);
  }
  if (start >= size || size === 0) throw unsatisfiable(`Range ${specs[0]} starts past the end of the ${size}-byte file`);
  return { start, end };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some(t => t.trim().replace(/^W\//, '') === etag);
}

/** `attachment; filename="…"; filename*=UTF-8''…` (or `inline`), safe for any file name. */
export function contentDisposition(name: string, inline: boolean): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Opens the recorded output `file` in the run's folder `runDir`, through no link. */
async function openOutput(runDir: string, file: string): Promise<{ handle: FileHandle; size: number }> {
  const rel = path.relative(runDir, file);
  if (!path.isAbsolute(file) || !isWithin(file, runDir) || !rel) {
    throw new HttpError(409, `the output file ${path.basename(file)} is not in the run's folder; the bridge serves only outputs it keeps there`);
  }
  try {
    return await withDir(SafeDir.open(runDir, "the run's folder"), root =>
      withDir(root.openDir(path.dirname(rel)), async dir => {
        const { handle, stat } = await dir.openFile(path.basename(rel), rel);
        return { handle, size: stat.size };
      })
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new HttpError(404, `the output file is gone from the bridge's disk (${path.basename(file)}): it was moved or deleted after the run`);
    if (err instanceof UnsafePathError) {
      throw new HttpError(409, /symbolic link/.test(err.message) ? `the output file is behind a symbolic link: ${err.message}` : "the output is no longer a regular file on the bridge's disk");
    }
    throw err;
  }
}

/** Sends an output file of the run whose folder is `runDir`: Range (206/416), ETag/If-None-Match (304), Content-Disposition. */
export async function sendFile(req: FastifyRequest, reply: FastifyReply, rec: FileRecord, inline: boolean, runDir: string): Promise<FastifyReply> {
  const etag = /^[0-9a-f]{64}$/i.test(rec.sha256 ?? '') ? `"${rec.sha256.toLowerCase()}"` : undefined;
  const name = path.basename(rec.path);
  const type = contentTypeOf(name);
  // Clients may keep a copy, but must ask again (If-None-Match) before using it.
  reply.header('cache-control', 'private, no-cache');
  reply.header('accept-ranges', 'bytes');
  if (etag) reply.header('etag', etag);
  reply.header('content-disposition', contentDisposition(name, inline));
  // An inline SVG or PDF must not run script in any origin.
  reply.header('content-security-policy', "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox");
  const ifNoneMatch = req.headers['if-none-match'];
  if (etag && etagMatches(typeof ifNoneMatch === 'string' ? ifNoneMatch : undefined, etag)) {
    return reply.code(304).send();
  }
  const { handle, size } = await openOutput(runDir, rec.path);
  try {
    if (typeof rec.size === 'number' && size !== rec.size) {
      throw new HttpError(409, `the output file changed since the run recorded it (${rec.size} bytes then, ${size} now); the bridge does not serve it`);
    }
    const ifRange = req.headers['if-range'];
    const rangeHeader = typeof req.headers.range === 'string' && (ifRange === undefined || ifRange === etag) ? req.headers.range : undefined;
    const range = parseRange(rangeHeader, size);
    reply.type(type);
    if (size === 0) {
      await handle.close();
      return reply.header('content-length', 0).send(Buffer.alloc(0));
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    reply.header('content-length', end - start + 1);
    return reply.send(handle.createReadStream({ start, end, autoClose: true }));
  } catch (err) {
    await handle.close();
    throw err;
  }
}
