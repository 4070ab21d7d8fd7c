// A run's shareable bundle: its output folder (the Process Run Crate: metadata,
// run-record/, outputs) as one zip, with its local inputs under inputs/ when they are
// small enough (each checked against the sha256 the crate recorded) and CITATION.cff and
// codemeta.json stubs at the root. Written by `redlab export --zip` and streamed by the
// bridge's GET /runs/{id}/crate alike.
//
// The output folder is what a container wrote: it is read through SafeDir (no link is
// followed; a link or a special file found is left out and reported). Inputs are the
// user's own files, read by their recorded host path; the bridge bundles only those its own
// run record vouches for (recordedInputs).
//
// planCrateZip reads and checks everything that can refuse the bundle (no crate, a changed
// input) before a byte is written; writeCrateZip then streams it, hashing inputs again as
// they go in (one that changes in between fails the zip rather than shipping other bytes).
import { createHash } from 'crypto';
import { constants, type Dirent } from 'fs';
import { open, stat, type FileHandle } from 'fs/promises';
import * as path from 'path';
import { Transform, type Readable } from 'stream';
import { ZipFile } from 'yazl';
import {
  BUNDLED_INPUTS_DIR,
  bundledInputPath,
  citationCff,
  codemeta,
  CRATE_METADATA_FILE,
  formatBytes,
  parseRunCrate,
  withBundledInputs,
  type CitationOptions,
  type RunCrateInput,
  type RunCrateSummary
} from '../../../src/red';
import { isSafeSegment, isWithin } from '../util/fs-safety';
import { listTree } from '../util/hash';
import { SafeDir, UnsafePathError, withDir } from '../util/safe-fs';

export const CITATION_FILE = 'CITATION.cff';
export const CODEMETA_FILE = 'codemeta.json';
/** Inputs are bundled when they add up to less than this (100 MiB), unless told otherwise. */
export const DEFAULT_MAX_INPUT_BYTES = 100 * 1024 * 1024;
/** Largest ro-crate-metadata.json read (a crate of a million files is far below). */
const MAX_METADATA_BYTES = 256 * 1024 * 1024;
/** Stored as they are: compressing these again costs time and gains nothing. */
const STORED = /\.(png|jpe?g|gif|webp|gz|tgz|bz2|xz|zst|zip|7z|npz|parquet|h5|hdf5|pt|mp4|mp3|pdf)$/i;

/** Why a bundle cannot be made; `status` is the HTTP status the bridge answers with. */
export class CrateZipError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409 | 422
  ) {
    super(message);
    this.name = 'CrateZipError';
  }
}

export interface CrateZipOptions {
  /** Bundle local inputs when they add up to less than this many bytes (0: never). */
  maxInputBytes?: number;
  /**
   * The inputs' sha256 as the bridge's own run record has them (crate input key → sha256):
   * when given, only inputs the record vouches for are bundled. The crate lies in a folder
   * the container wrote; this keeps a crate the container forged from naming host files.
   */
  recordedInputs?: ReadonlyMap<string, string>;
  /** How the user leaves inputs out, for the message that refuses a changed one ("--max-input-mb 0"). */
  leaveInputsOut: string;
  citation?: CitationOptions;
}

interface PlannedFile {
  /** Path in the zip. */
  zipPath: string;
  size: number;
  mode: number;
  mtime: Date;
}

interface PlannedInputFile extends PlannedFile {
  /** Host path it is read from. */
  source: string;
  sha256: string;
  /** The input it belongs to (messages). */
  key: string;
}

export interface CrateZipPlan {
  /** The run's output folder. */
  dir: string;
  summary: RunCrateSummary;
  /** The crate folder's files (relative paths, as in the zip) and empty folders. */
  files: PlannedFile[];
  emptyDirs: string[];
  inputs: PlannedInputFile[];
  /** Written as they are at the zip's root: the metadata (changed when inputs are bundled), CITATION.cff, codemeta.json. */
  generated: { zipPath: string; data: Buffer }[];
  /** What was left out and why, for people: links and special files in the folder, inputs not bundled. */
  notes: string[];
  /** Bytes of file data that go in (for progress). */
  totalBytes: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const short = (sha: string) => sha.slice(0, 12) + '…';

async function readMetadata(root: SafeDir, dir: string): Promise<unknown> {
  let opened;
  try {
    opened = await root.openFile(CRATE_METADATA_FILE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CrateZipError(`${dir} has no ${CRATE_METADATA_FILE}: the run has not finished (its crate is written when it ends), or this is not a run's output folder`, 404);
    }
    if (err instanceof UnsafePathError) throw new CrateZipError(`${CRATE_METADATA_FILE} in ${dir}: ${err.message}`, 409);
    throw err;
  }
  try {
    if (opened.stat.size > MAX_METADATA_BYTES) throw new CrateZipError(`${CRATE_METADATA_FILE} in ${dir} has ${formatBytes(opened.stat.size)}, more than a run's crate can have`, 422);
    const text = (await opened.handle.readFile()).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new CrateZipError(`${CRATE_METADATA_FILE} in ${dir} is not JSON (${(err as Error).message}): the run's record is damaged`, 422);
    }
  } finally {
    await opened.handle.close();
  }
}

/** The crate folder's regular files and empty folders, never through a link; links and special files go to `notes`. */
async function walkFolder(root: SafeDir, notes: string[]): Promise<{ files: PlannedFile[]; emptyDirs: string[] }> {
  const files: PlannedFile[] = [];
  const emptyDirs: string[] = [];
  async function walk(dir: SafeDir, rel: string): Promise<void> {
    const entries = (await dir.entries()).sort((a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (!entries.length && rel) emptyDirs.push(rel);
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (!isSafeSegment(e.name)) {
        notes.push(`${JSON.stringify(r)} has a name RED Lab does not read (a backslash in it): left out`);
        continue;
      }
      const st = await dir.lstat(e.name);
      if (st.isSymbolicLink()) {
        const to = await dir.readlink(e.name).catch(() => '?');
        notes.push(`${r} is a symbolic link (to ${to}): left out, not followed`);
      } else if (st.isDirectory()) {
        await withDir(dir.openChildDir(e.name, r), d => walk(d, r));
      } else if (st.isFile()) {
        files.push({ zipPath: r, size: st.size, mode: st.mode & 0o777, mtime: st.mtime });
      } else {
        notes.push(`${r} is not a regular file (a FIFO, socket or device): left out`);
      }
    }
  }
  await walk(root, '');
  return { files, emptyDirs };
}

/** A name for the inputs folder that nothing in the crate folder uses. */
function inputsDirName(taken: Set<string>): string {
  for (let i = 1; ; i++) {
    const name = i === 1 ? BUNDLED_INPUTS_DIR : `${BUNDLED_INPUTS_DIR}-${i}`;
    if (!taken.has(name)) return name;
  }
}

/**
 * Opens a host file for reading only while it is a regular file (of `size` bytes when
 * given): a FIFO or a device put at an input's path never blocks or feeds the zip.
 */
async function openRegularFile(file: string, size?: number): Promise<{ handle: FileHandle; size: number }> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  const st = await handle.stat().catch(async err => {
    await handle.close();
    throw err;
  });
  if (!st.isFile() || (size !== undefined && st.size !== size)) {
    await handle.close();
    throw Object.assign(new Error(st.isFile() ? `${file} has ${st.size} bytes now, not ${size}` : `${file} is not a regular file`), { code: 'ECHANGED' });
  }
  return { handle, size: st.size };
}

/** sha256 and size of a regular file (see openRegularFile). */
async function hashRegularFile(file: string): Promise<{ sha256: string; size: number; mode: number; mtime: Date }> {
  const { handle } = await openRegularFile(file);
  try {
    const st = await handle.stat();
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ autoClose: false, start: 0 })) hash.update(chunk as Buffer);
    return { sha256: hash.digest('hex'), size: st.size, mode: st.mode & 0o777, mtime: st.mtime };
  } finally {
    await handle.close();
  }
}

/** The files of one local input, hashed and checked against what the crate recorded; a CrateZipError when it changed. */
async function checkedInput(input: RunCrateInput & { path: string }, zipPath: string, opts: CrateZipOptions): Promise<PlannedInputFile[]> {
  const label = `input ${input.key} (${input.path})`;
  const refuse = (what: string) => new CrateZipError(`${label} ${what}: the bundle would not hold the data the run read; restore it as it was, or leave inputs out (${opts.leaveInputsOut})`, 409);
  const st = await stat(input.path).catch(err => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw refuse('is gone since the run');
    throw err;
  });
  const kind = input.class === 'File' ? st.isFile() : st.isDirectory();
  if (!kind) throw refuse(`is not a ${input.class === 'File' ? 'regular file' : 'folder'} now`);
  if (input.class === 'File') {
    if (input.size !== undefined && st.size !== input.size) throw refuse(`changed since the run: ${st.size} bytes now, ${input.size} when it ran`);
    const h = await hashRegularFile(input.path).catch(err => {
      throw (err as NodeJS.ErrnoException).code === 'ECHANGED' ? refuse(`changed while it was checked (${(err as Error).message})`) : err;
    });
    if (h.sha256 !== input.sha256) throw refuse(`changed since the run: its sha256 is ${short(h.sha256)} now, the crate recorded ${short(input.sha256 ?? '')}`);
    return [{ zipPath, source: input.path, size: h.size, sha256: h.sha256, key: input.key, mode: h.mode, mtime: h.mtime }];
  }
  // A folder: its hash is that of its sorted `relative-path\0sha256\n` lines (util/hash.ts hashPath, as staging measured it).
  let tree;
  try {
    tree = await listTree(input.path);
  } catch (err) {
    throw refuse(`cannot be read as it was (${(err as Error).message})`);
  }
  const whole = createHash('sha256');
  const files: PlannedInputFile[] = [];
  for (const f of tree) {
    const h = await hashRegularFile(f.abs).catch(err => {
      throw (err as NodeJS.ErrnoException).code === 'ECHANGED' ? refuse(`changed while it was checked (${(err as Error).message})`) : err;
    });
    whole.update(`${f.rel}\0${h.sha256}\n`);
    files.push({ zipPath: `${zipPath}/${f.rel}`, source: f.abs, size: h.size, sha256: h.sha256, key: input.key, mode: h.mode, mtime: h.mtime });
  }
  const sha = whole.digest('hex');
  if (sha !== input.sha256) throw refuse(`changed since the run: its files' sha256 is ${short(sha)} now, the crate recorded ${short(input.sha256 ?? '')}`);
  return files;
}

/**
 * Reads the crate in `dir` and plans its bundle; refuses (CrateZipError) when there is
 * no crate or a bundled input changed since the run.
 */
export async function planCrateZip(dir: string, opts: CrateZipOptions): Promise<CrateZipPlan> {
  let rootDir: SafeDir;
  try {
    rootDir = await SafeDir.open(dir, "the run's output folder");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CrateZipError(`${dir} does not exist: give a run's output folder (redlab run --outdir) or a bridge run id`, 404);
    if (code === 'ENOTDIR') throw new CrateZipError(`${dir} is not a folder: give a run's output folder (redlab run --outdir), which holds ${CRATE_METADATA_FILE}`, 404);
    throw err;
  }
  return withDir(rootDir, async root => {
    const crate = await readMetadata(root, dir);
    let summary: RunCrateSummary;
    try {
      summary = parseRunCrate(crate);
    } catch (err) {
      throw new CrateZipError(`${CRATE_METADATA_FILE} in ${dir}: ${(err as Error).message}`, 422);
    }
    const notes: string[] = [];
    const { files, emptyDirs } = await walkFolder(root, notes);
    const topNames = new Set([...files, ...emptyDirs.map(d => ({ zipPath: d }))].map(f => f.zipPath.split('/')[0]));

    // Local inputs, all or none: the whole run's data, or a bundle that says where it was.
    const local = summary.inputs.filter((i): i is RunCrateInput & { path: string } => !!i.path && !i.url);
    const maxBytes = opts.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
    const inputs: PlannedInputFile[] = [];
    const mapping: Record<string, string> = {};
    if (local.length) {
      let total = 0;
      for (const i of local) total += i.size ?? (await stat(i.path).then(st => st.size, () => 0));
      // Names that become paths in the zip: the crate lies in a folder the container wrote.
      const oddNames = local.filter(i => !isSafeSegment(i.key) || !isSafeSegment(path.posix.basename(bundledInputPath(i)))).map(i => JSON.stringify(i.key));
      const unhashed = local.filter(i => !i.sha256);
      const unvouched = opts.recordedInputs ? local.filter(i => opts.recordedInputs!.get(i.key) !== i.sha256).map(i => i.key) : [];
      if (maxBytes <= 0) notes.push(`${plural(local.length, 'local input')} not bundled (inputs left out as asked); the crate names where they were`);
      else if (total >= maxBytes) notes.push(`${plural(local.length, 'local input')} not bundled: together ${formatBytes(total)}, over the limit of ${formatBytes(maxBytes)}; the crate names where they were`);
      else if (oddNames.length) notes.push(`local inputs not bundled: the crate names ${oddNames.join(', ')}, which cannot be a folder name in the zip`);
      else if (unhashed.length) notes.push(`local inputs not bundled: the crate records no sha256 of ${unhashed.map(i => i.key).join(', ')}, so they cannot be checked against what the run read`);
      else if (unvouched.length) notes.push(`local inputs not bundled: the run's record does not hold ${unvouched.join(', ')} as the crate describes ${unvouched.length === 1 ? 'it' : 'them'}`);
      else {
        const inputsDir = inputsDirName(topNames);
        for (const i of local) {
          const zipPath = bundledInputPath(i, inputsDir);
          inputs.push(...(await checkedInput(i, zipPath, opts)));
          mapping[i.id] = zipPath;
        }
      }
    }
    const remote = summary.inputs.length - local.length;
    if (remote) notes.push(`${plural(remote, 'remote input')} not bundled: the crate names ${remote === 1 ? 'its URL' : 'their URLs'}`);

    const metadata = Object.keys(mapping).length ? withBundledInputs(crate, mapping) : undefined;
    const generated: CrateZipPlan['generated'] = [];
    const crateFiles = metadata ? files.filter(f => f.zipPath !== CRATE_METADATA_FILE) : files;
    if (metadata) generated.push({ zipPath: CRATE_METADATA_FILE, data: Buffer.from(JSON.stringify(metadata, null, 2) + '\n') });
    const stubs: [string, () => string][] = [
      [CITATION_FILE, () => citationCff(summary, opts.citation)],
      [CODEMETA_FILE, () => JSON.stringify(codemeta(summary, opts.citation), null, 2) + '\n']
    ];
    for (const [name, make] of stubs) {
      if (topNames.has(name)) notes.push(`the run's own ${name} is bundled; no ${name} stub was made`);
      else generated.push({ zipPath: name, data: Buffer.from(make()) });
    }
    const totalBytes = [...crateFiles, ...inputs].reduce((n, f) => n + f.size, 0);
    return { dir, summary, files: crateFiles, emptyDirs, inputs, generated, notes, totalBytes };
  });
}

export interface ZipProgress {
  /** File bytes read so far, of `total`. */
  bytes: number;
  total: number;
  /** The path in the zip being written. */
  current: string;
}

/** Counts (and for inputs, hashes) the bytes of one file on their way into the zip. */
function meter(onBytes: (n: number) => void, check?: { sha256: string; fail: (got: string) => Error }): Transform {
  const hash = check ? createHash('sha256') : undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash?.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      const got = hash?.digest('hex');
      done(check && got !== check.sha256 ? check.fail(got ?? '') : null);
    }
  });
}

/**
 * Streams the planned bundle into `out` (a file or an HTTP response) and resolves once it
 * is all written; rejects, destroying `out`, when a file cannot be read as planned.
 */
export function writeCrateZip(plan: CrateZipPlan, out: NodeJS.WritableStream, onProgress?: (p: ZipProgress) => void): Promise<{ bytes: number }> {
  return new Promise((resolve, reject) => {
    const zip = new ZipFile();
    const output = zip.outputStream as Readable;
    let failed = false;
    let written = 0;
    let read = 0;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      output.unpipe();
      output.destroy();
      (out as NodeJS.WritableStream & { destroy?: (e?: Error) => void }).destroy?.(err);
      reject(err);
    };
    const progress = (current: string) => (n: number) => {
      read += n;
      onProgress?.({ bytes: read, total: plan.totalBytes, current });
    };
    zip.on('error', fail);
    output.on('error', fail);
    output.on('data', (c: Buffer) => (written += c.length));
    out.on('error', fail);
    out.on('finish', () => {
      if (!failed) resolve({ bytes: written });
    });
    // Only ends `out` once yazl has ended its stream: an error before that destroys it instead.
    output.pipe(out as NodeJS.WritableStream);

    withDir(SafeDir.open(plan.dir, "the run's output folder"), async root => {
      for (const g of plan.generated) zip.addBuffer(g.data, g.zipPath, { mode: 0o644 });
      for (const d of plan.emptyDirs) zip.addEmptyDirectory(d);
      // The folder's files open one at a time as yazl gets to them (not all descriptors at once), held by `root`.
      const opened: Promise<unknown>[] = [];
      for (const f of plan.files) {
        zip.addReadStreamLazy(f.zipPath, { mtime: f.mtime, mode: f.mode, compress: !STORED.test(f.zipPath) }, cb => {
          const p = withDir(root.openDir(path.posix.dirname(f.zipPath)), d => d.openFile(path.posix.basename(f.zipPath), f.zipPath)).then(
            ({ handle }) => cb(null, handle.createReadStream({ autoClose: true }).on('error', fail).pipe(meter(progress(f.zipPath)))),
            err => fail(err instanceof UnsafePathError ? new Error(`${f.zipPath} in ${plan.dir} changed while it was zipped: ${err.message}`) : err)
          );
          opened.push(p);
        });
      }
      for (const f of plan.inputs) {
        zip.addReadStreamLazy(f.zipPath, { mtime: f.mtime, mode: f.mode, size: f.size, compress: !STORED.test(f.zipPath) }, cb => {
          const check = {
            sha256: f.sha256,
            fail: (got: string) => new CrateZipError(`input ${f.key}: ${f.source} changed while it was zipped (sha256 ${short(got)} instead of ${short(f.sha256)}); export again`, 409)
          };
          openRegularFile(f.source, f.size).then(
            ({ handle }) => cb(null, handle.createReadStream({ autoClose: true, start: 0 }).on('error', fail).pipe(meter(progress(f.zipPath), check).on('error', fail))),
            err => fail((err as NodeJS.ErrnoException).code === 'ECHANGED' ? new CrateZipError(`input ${f.key}: ${(err as Error).message}: it changed while it was zipped; export again`, 409) : err)
          );
        });
      }
      // Resolves when every entry has been read: the folder stays open until then.
      await new Promise<void>(done => {
        zip.end(undefined, () => undefined);
        output.on('end', done);
        output.on('close', done);
      });
      await Promise.allSettled(opened);
    }).catch(fail);
  });
}

/** The plan's notes and size in a few lines, for people. */
export function describePlan(plan: CrateZipPlan): string[] {
  const inputKeys = new Set(plan.inputs.map(i => i.key));
  return [
    `${plural(plan.files.length + plan.generated.length, 'file')} from the crate${inputKeys.size ? `, ${plural(inputKeys.size, 'input')} bundled` : ''}, ${formatBytes(plan.totalBytes)} of data`,
    ...plan.notes
  ];
}

/** True when `file` (absolute) lies inside the run's folder `dir`: writing the zip there would zip the zip. */
export function isInsideCrate(file: string, dir: string): boolean {
  return isWithin(path.resolve(file), path.resolve(dir));
}
