// `redlab export RUN_DIR|RUN_ID --zip [-o FILE]`: a run's shareable bundle (its Process Run
// Crate with outputs, small local inputs, CITATION.cff and codemeta.json stubs) as one zip.
// RUN_DIR is a run's output folder (redlab run --outdir); RUN_ID a run of the bridge,
// found in its data folder.
import { randomUUID } from 'crypto';
import { createWriteStream } from 'fs';
import { rename, rm, stat } from 'fs/promises';
import * as path from 'path';
import { CRATE_METADATA_FILE, formatBytes, orcidUrl, type CitationOptions } from '../../../src/red';
import { CrateZipError, DEFAULT_MAX_INPUT_BYTES, describePlan, isInsideCrate, planCrateZip, writeCrateZip } from '../record/crate-zip';
import { isRunId } from '../store/ids';
import { CliError } from './red-file';
import { bridgeDataDir, bridgeRunDir } from './bridge-run-dir';

export interface ExportFlags {
  zip?: boolean;
  output?: string;
  maxInputMb?: number;
  dataDir?: string;
  batch?: number;
  author?: string;
  affiliation?: string;
  orcid?: string;
  title?: string;
}

/** Bundles this big or bigger show their progress on stderr. */
export const PROGRESS_MIN_BYTES = 64 * 1024 * 1024;
const MB = 1024 * 1024;

/** The crate folder and the zip's default name for what the user named. */
async function resolveTarget(target: string, flags: ExportFlags, env: NodeJS.ProcessEnv, cwd: string): Promise<{ dir: string; name: string }> {
  const asPath = path.resolve(cwd, target);
  const st = await stat(asPath).catch(() => undefined);
  if (st?.isDirectory()) {
    if (flags.batch !== undefined) throw new CliError('--batch is for a bridge run id; a batch of `redlab run` has its own folder (<outdir>_N): give that folder');
    return { dir: asPath, name: `${path.basename(asPath)}-crate.zip` };
  }
  if (st) throw new CliError(`${target} is a file: give a run's output folder (the one holding ${CRATE_METADATA_FILE}) or a bridge run id`);
  if (isRunId(target)) {
    const dir = await bridgeRunDir(target, bridgeDataDir(flags.dataDir, env, cwd), flags.batch);
    return { dir, name: `redlab-run-${target}${dir.endsWith('outputs') ? '' : `-batch-${dir.slice(dir.lastIndexOf('_') + 1)}`}.zip` };
  }
  throw new CliError(`${target}: no such folder, and not a bridge run id (26 characters, 0-9 and A-Z): give a run's output folder (redlab run --outdir) or a run id`);
}

function citationOptions(flags: ExportFlags): CitationOptions {
  const opts: CitationOptions = {};
  if (flags.author !== undefined) opts.author = flags.author;
  if (flags.affiliation !== undefined) opts.affiliation = flags.affiliation;
  if (flags.title !== undefined) opts.title = flags.title;
  if (flags.orcid !== undefined) {
    try {
      opts.orcid = orcidUrl(flags.orcid, '--orcid');
    } catch (err) {
      throw new CliError((err as Error).message);
    }
  }
  return opts;
}

/** Prints each further tenth of a big bundle, so a long export is seen to move. */
function progressPrinter(total: number, err: NodeJS.WritableStream): ((p: { bytes: number; current: string }) => void) | undefined {
  if (total < PROGRESS_MIN_BYTES) return undefined;
  let shown = 0;
  return p => {
    const tenth = Math.floor((p.bytes / total) * 10);
    if (tenth <= shown) return;
    shown = tenth;
    err.write(`zipping: ${tenth * 10}% (${formatBytes(p.bytes)} of ${formatBytes(total)}) ${p.current}\n`);
  };
}

/** Runs the export; returns the exit code. */
export async function exportRun(target: string, flags: ExportFlags, io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; env: NodeJS.ProcessEnv; cwd: string }): Promise<number> {
  if (flags.maxInputMb !== undefined && !(Number.isFinite(flags.maxInputMb) && flags.maxInputMb >= 0)) {
    throw new CliError(`--max-input-mb must be a number of megabytes (MiB) of at least 0 (0: leave inputs out), not ${flags.maxInputMb}`);
  }
  if (flags.batch !== undefined && !(Number.isInteger(flags.batch) && flags.batch >= 0)) throw new CliError(`--batch must be a batch's index (0, 1, …), not ${flags.batch}`);
  const citation = citationOptions(flags);
  const { dir, name } = await resolveTarget(target, flags, io.env, io.cwd);
  const file = path.resolve(io.cwd, flags.output ?? name);
  if (isInsideCrate(file, dir)) throw new CliError(`-o ${flags.output ?? name}: the zip would be written inside the run's folder ${dir}, which it bundles; write it elsewhere`);

  let plan;
  try {
    plan = await planCrateZip(dir, {
      maxInputBytes: flags.maxInputMb !== undefined ? Math.floor(flags.maxInputMb * MB) : DEFAULT_MAX_INPUT_BYTES,
      leaveInputsOut: '--max-input-mb 0',
      citation
    });
  } catch (err) {
    if (err instanceof CrateZipError) throw new CliError(err.message, 1);
    throw err;
  }
  for (const line of describePlan(plan)) io.err.write(`${line}\n`);

  // Written beside its final name, renamed when whole: a failed export leaves no half zip.
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID().slice(0, 8)}.partial`);
  try {
    const result = await writeCrateZip(plan, createWriteStream(partial, { flags: 'wx', mode: 0o644 }), progressPrinter(plan.totalBytes, io.err));
    await rename(partial, file);
    io.err.write(`wrote ${formatBytes(result.bytes)}\n`);
  } catch (err) {
    await rm(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') throw new CliError(`cannot write ${file}: ${(err as Error).message}`, 1);
    if (err instanceof CrateZipError) throw new CliError(err.message, 1);
    throw err;
  }
  io.out.write(`${file}\n`);
  return 0;
}
