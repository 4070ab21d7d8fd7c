// `redlab rerun DIR|CRATE.zip`: runs a recorded run again from its Process Run Crate (the
// RED it ran, with secrets as {{variables}} filled as `run` fills them, the same inputs
// checked by sha256, the same image pinned by digest or ID) and reports how the re-run
// differs: inputs, image, engine, exit code, every output file, the logs. Exit 0 only
// when nothing differs beyond tolerance; 1 on drift; 2 usage; 130 cancelled.
import { mkdtemp, rm, stat } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
import { CRATE_METADATA_FILE, formatIssues, loadRed, RedError, RunCrateError, type InputDrift, type LoadedRed, type RunCrateSummary, type RunResult } from '../../../src/red';
import { unpackArchive, unpackLimitsFromEnv } from '../connectors/unpack-archive';
import { createDockerClient } from '../engine/docker-client';
import { readOutputFile } from '../drift/compare-outputs';
import { driftExitStatus, formatDriftReport } from '../drift/format';
import { buildDriftReport, inputNames, readRunCrate } from '../drift/report';
import { hashPath } from '../util/hash';
import { CliError } from './red-file';
import { bridgeDataDir, bridgeRunDir } from './bridge-run-dir';
import { isRunId } from '../store/ids';
import { EXIT, runLoadedRed, type RunIO } from './run';

export interface RerunOptions {
  json?: boolean;
  atol?: number;
  rtol?: number;
  ignore?: string[];
  outdir?: string;
  variables?: string;
  nonInteractive?: boolean;
  /** Default: the engine the run was recorded with. */
  engine?: string;
  allowRoot?: string[];
  workRoot?: string;
  /** For a bridge run id: the bridge's data folder, and which batch of a batch run. */
  dataDir?: string;
  batch?: number;
}

/** An image as the engine has it. */
export interface FoundImage {
  id: string;
  digests: string[];
}

export interface RerunIO extends RunIO {
  /**
   * The image `ref` (a tag, `repo@sha256:…` or an image ID) on engine `engine`: undefined
   * when the engine does not have it, 'unknown' when it cannot be asked (then the run is
   * pinned anyway and the engine says plainly if the image is gone).
   */
  findImage(ref: string, engine: string): Promise<FoundImage | undefined | 'unknown'>;
}

/** A crate to re-run: its folder, and what to remove when done (an unpacked zip). */
interface OpenedCrate {
  dir: string;
  /** What the user named (messages), and where the default outdir goes beside. */
  named: string;
  cleanup?: () => Promise<void>;
}

function tolerance(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0) throw new CliError(`${name} must be a number of at least 0 (e.g. 1e-6), got ${value}`);
  return value;
}

async function openCrate(target: string, opts: Pick<RerunOptions, 'dataDir' | 'batch'>, io: Pick<RerunIO, 'cwd' | 'env'>): Promise<OpenedCrate> {
  const named = path.resolve(io.cwd, target);
  const st = await stat(named).catch(() => undefined);
  if (!st && isRunId(target)) {
    // A bridge run: its outputs folder holds its crate; the re-run's outputs go beside the user, not into the bridge's data.
    const dir = await bridgeRunDir(target, bridgeDataDir(opts.dataDir, io.env, io.cwd), opts.batch);
    return { dir, named: path.join(io.cwd, `redlab-run-${target}${dir.endsWith('outputs') ? '' : `-batch-${dir.slice(dir.lastIndexOf('_') + 1)}`}`) };
  }
  if (opts.batch !== undefined || opts.dataDir !== undefined) throw new CliError('--batch and --data-dir are for a bridge run id; a batch of `redlab run` has its own folder (<outdir>_N): give that folder');
  if (!st) {
    const batches = (await stat(`${named}_0`).catch(() => undefined))?.isDirectory() ? `; a batch RED's runs are in ${named}_0, _1, …: give one batch's folder` : '';
    throw new CliError(`${target}: no such folder or file: give a run's output folder (redlab run --outdir, holding ${CRATE_METADATA_FILE}), its zip or a bridge run id${batches}`);
  }
  if (st.isDirectory()) return { dir: named, named };
  if (!/\.zip$/i.test(named)) throw new CliError(`${target} is a file but not a .zip: give a run's output folder (holding ${CRATE_METADATA_FILE}) or a crate zip (redlab export)`);
  // A private folder (mkdtemp makes it 0700); the unpacker refuses links, absolute and `..` names.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'redlab-rerun-'));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    const dir = path.join(tmp, 'crate');
    await unpackArchive(named, 'zip', dir, unpackLimitsFromEnv());
    return { dir, named, cleanup };
  } catch (err) {
    await cleanup();
    throw new CliError(`${target}: cannot unpack it: ${(err as Error).message}`);
  }
}

/** The crate's summary; a folder without one, or a crate RED Lab did not write, is a usage error naming it. */
async function readSummary(dir: string, what: string): Promise<RunCrateSummary> {
  try {
    return await readRunCrate(dir);
  } catch (err) {
    if (err instanceof RunCrateError || err instanceof SyntaxError) throw new CliError(`${path.join(dir, CRATE_METADATA_FILE)}: ${err.message}`);
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ` has no ${CRATE_METADATA_FILE}` : `: cannot read ${CRATE_METADATA_FILE}: ${(err as Error).message}`;
    throw new CliError(`${what}${why}: give a run's output folder as redlab run left it (for a batch RED, each batch's own folder <outdir>_N)`);
  }
}

/** The RED the run ran, as its crate keeps it (read without following links). */
async function readCrateRed(dir: string, summary: RunCrateSummary): Promise<LoadedRed> {
  const file = path.join(dir, summary.redFile);
  let text: string;
  try {
    text = (await readOutputFile(dir, summary.redFile)).toString('utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot read the RED the run ran: ${(err as Error).message}`);
  }
  try {
    return loadRed(text, { source: path.basename(file) });
  } catch (err) {
    if (err instanceof RedError) throw new CliError(`${file} is not a valid RED file:\n${formatIssues(err.issues, file)}`);
    throw err;
  }
}

/** Where the RED counts as being for the re-run: where it was when it ran (relative inputs resolve as they did), else the crate's copy. */
async function redLocation(summary: RunCrateSummary, crateDir: string, io: RerunIO): Promise<string> {
  if (summary.redSource && (await stat(path.dirname(summary.redSource)).catch(() => undefined))?.isDirectory()) return summary.redSource;
  if (summary.redSource) io.stderr.write(`redlab: the RED's folder ${path.dirname(summary.redSource)} is gone: relative input paths resolve against ${path.join(crateDir, path.dirname(summary.redFile))}\n`);
  return path.join(crateDir, summary.redFile);
}

/** Local inputs hashed now against their record; remote ones are compared after the run (what it received). */
async function checkLocalInputs(summary: RunCrateSummary): Promise<(InputDrift | undefined)[]> {
  const names = inputNames(summary.inputs);
  return Promise.all(
    summary.inputs.map(async (input, n): Promise<InputDrift | undefined> => {
      const key = names[n];
      if (!input.path) return undefined;
      if (!input.sha256) return { key, kind: 'unchecked', detail: `${input.path}: the record has no sha256` };
      const now = await hashPath(input.path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : err));
      if (now === undefined) return { key, kind: 'missing', sha256: { before: input.sha256 }, detail: `${input.path} is gone` };
      if (now instanceof Error) return { key, kind: 'missing', sha256: { before: input.sha256 }, detail: `${input.path}: cannot read it: ${now.message}` };
      if (now.sha256 === input.sha256) return { key, kind: 'identical', sha256: { before: input.sha256, after: now.sha256 } };
      return { key, kind: 'changed', sha256: { before: input.sha256, after: now.sha256 }, detail: `${input.path}: ${input.size ?? '?'} bytes when it ran, ${now.size} now` };
    })
  );
}

/** The image reference the re-run uses, and what to say about it. */
interface PinnedImage {
  ref: string;
  /** Said before the run, on stderr. */
  note: string;
  /** Image drift known before the run (the recorded image is gone). */
  drift?: string;
}

async function pinImage(summary: RunCrateSummary, engine: string, io: RerunIO): Promise<PinnedImage | undefined> {
  const { url, id, digest } = summary.image;
  if (!id && !digest) return undefined; // an engine without images (process), or a run that never got its image
  const find = (ref: string) => io.findImage(ref, engine).catch(() => 'unknown' as const);
  const recorded = digest ?? id!;
  // Said when the tag has moved on since the run: the pin keeps the recorded image.
  const tagMoved = async (pinnedId: string) => {
    const tag = await find(url);
    return tag && tag !== 'unknown' && tag.id !== pinnedId ? `; the tag ${url} names another image now (${tag.id}), not used` : '';
  };
  const here = digest ? await find(digest) : undefined;
  if (here && here !== 'unknown') return { ref: digest!, note: `the image is pinned to its registry digest ${digest}${await tagMoved(here.id)}` };
  const byId = id ? await find(id) : undefined;
  if (byId && byId !== 'unknown') return { ref: id!, note: `the image is pinned to the image ID the run used, ${id} (still on this machine)${await tagMoved(byId.id)}` };
  if (here === 'unknown' || byId === 'unknown') return { ref: recorded, note: `the image is pinned to ${recorded}` };
  if (digest && summary.image.pullable) return { ref: digest, note: `the image is pinned to its registry digest ${digest} (not on this machine: it is pulled)` };
  const gone = `the image the run used (${id ?? digest}) is not on this machine any more${digest ? '' : ' and has no registry digest to pull it by'}`;
  return { ref: url, note: `${gone}: running the tag ${url} instead, which may be another image`, drift: `${gone}; the re-run used the tag ${url}` };
}

/** findImage on the local Docker engine (`dockerHost`: its address, else DOCKER_HOST or the socket); other engines cannot be asked. */
export function dockerImageFinder(dockerHost: string | undefined): RerunIO['findImage'] {
  return async (ref, engine) => {
    // The slurm engine converts this host's Docker images for Charliecloud: they are found there too.
    if (engine !== 'docker' && engine !== 'slurm') return 'unknown';
    try {
      const info = await createDockerClient({ dockerHost }).getImage(ref).inspect();
      return { id: info.Id, digests: info.RepoDigests ?? [] };
    } catch (err) {
      return (err as { statusCode?: number }).statusCode === 404 ? undefined : 'unknown';
    }
  };
}

/** The recorded RED with its image pinned. */
function withImage(loaded: LoadedRed, ref: string): LoadedRed {
  const red = structuredClone(loaded.red);
  red.container.settings.image.url = ref;
  return { ...loaded, red };
}

/** A timestamp for a folder name: 20260102-150405. */
function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function defaultOutdir(named: string): string {
  const base = named.replace(/\.zip$/i, '').replace(/\/+$/, '');
  return `${base}-rerun-${stamp(new Date())}`;
}

export async function rerun(target: string, opts: RerunOptions, io: RerunIO): Promise<number> {
  const atol = tolerance('--atol', opts.atol);
  const rtol = tolerance('--rtol', opts.rtol);
  const ignore = opts.ignore ?? [];
  const crate = await openCrate(target, opts, io);
  try {
    const before = await readSummary(crate.dir, target);
    const loaded = await readCrateRed(crate.dir, before);
    const redFile = await redLocation(before, crate.dir, io);
    const outdir = path.resolve(io.cwd, opts.outdir ?? defaultOutdir(crate.named));
    if (outdir === crate.dir || outdir === crate.named) throw new CliError(`--outdir ${opts.outdir} is the recorded run's own folder: give a new folder for the re-run's outputs`);
    if (await stat(outdir).catch(() => undefined)) throw new CliError(`--outdir ${outdir} exists already: give a new folder, so the re-run's outputs and record are its own`);

    // Inputs first: a changed input is said before anything runs.
    const local = await checkLocalInputs(before);
    for (const d of local) {
      if (d && (d.kind === 'changed' || d.kind === 'missing')) io.stderr.write(`redlab: input drift: ${d.key} ${d.kind === 'changed' ? 'changed since the run' : 'is missing'}: ${d.detail}\n`);
    }

    const engine = opts.engine ?? before.engine.name;
    const pinned = await pinImage(before, engine, io);
    if (pinned) io.stderr.write(`redlab: ${pinned.note}\n`);

    const result: RunResult = await runLoadedRed(pinned ? withImage(loaded, pinned.ref) : loaded, redFile, {
      variables: opts.variables,
      nonInteractive: opts.nonInteractive,
      json: opts.json,
      outdir,
      engine,
      allowRoot: opts.allowRoot,
      workRoot: opts.workRoot
    }, io);
    if (result.state === 'cancelled') return EXIT.cancelled;

    const after = await readSummary(outdir, `the re-run's folder ${outdir}`).catch((err: Error) => {
      io.stderr.write(`redlab: ${err.message}\n`);
      return undefined;
    });
    const report = await buildDriftReport(before, after, { beforeDir: crate.dir, afterDir: outdir, ranWith: result, imageDrift: pinned?.drift, inputs: local, atol, rtol, ignore });
    if (opts.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else io.stdout.write(formatDriftReport(report));
    return driftExitStatus(report);
  } finally {
    await crate.cleanup?.();
  }
}
