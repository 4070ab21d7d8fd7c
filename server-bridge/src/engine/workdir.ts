// Where a batch's work happens on the host, computed only from the work root, the
// run id and the batch index, so that a bridge restarted after a crash finds the
// folder a container wrote its outputs into:
//   <workRoot>/<runId>/batch-<n>/inputs    staged inputs (bound read-only)
//   <workRoot>/<runId>/batch-<n>/outputs   bound at /cc/outputs (the working directory)
// and the names of generated stdout/stderr capture files (CC picks a random name
// when cli.stdout/cli.stderr is absent; here it is a UUID derived from the run id).
import { createHash } from 'crypto';
import * as os from 'os';
import * as path from 'path';
import { isSafeSegment } from '../util/fs-safety';
import { ensurePrivateDir } from '../util/private-dir';

export interface BatchWorkDir {
  /** `<workRoot>/<runId>/batch-<n>` */
  dir: string;
  /** `<dir>/inputs` */
  inputs: string;
  /** `<dir>/outputs`, the container's /cc/outputs. */
  outputs: string;
}

/**
 * The default work root: `$XDG_CACHE_HOME/redlab/runs` (`~/.cache/redlab/runs`), per
 * user. Not under os.tmpdir(): a folder there can be made first by another account,
 * which can then swap a run's folder (ensureWorkRoot refuses such a folder anyway).
 * The bridge passes one under its data dir.
 */
export function defaultWorkRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec ignores a relative value.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'redlab', 'runs');
}

/**
 * Creates the work root (0700) when missing and checks that it is private (owned by
 * us, not writable by group or others, nor below a folder others may write): throws
 * PrivateDirError naming the folder and the fix otherwise.
 */
export function ensureWorkRoot(workRoot: string): Promise<string> {
  return ensurePrivateDir(
    workRoot,
    'work folder',
    'choose a folder only you can write (redlab run --work-root DIR or REDLAB_WORK_ROOT; the bridge keeps its work folder under --data-dir), or remove this one'
  );
}

/** Throws unless `runId` can be a folder name (no `/`, not `.`/`..`). */
export function checkRunId(runId: string): string {
  if (!isSafeSegment(runId)) throw new Error(`run id ${JSON.stringify(runId)} cannot name a work folder: use letters, digits, '-' or '_'`);
  return runId;
}

/** `<workRoot>/<runId>`: every batch of the run below it. */
export function runWorkDir(workRoot: string, runId: string): string {
  return path.join(path.resolve(workRoot), checkRunId(runId));
}

/** The work folder of batch `batch` of run `runId` (batch 0 for a RED without batches). */
export function batchWorkDir(workRoot: string, runId: string, batch: number): BatchWorkDir {
  if (!Number.isSafeInteger(batch) || batch < 0) throw new Error(`batch index must be a whole number of at least 0, not ${String(batch)}`);
  const dir = path.join(runWorkDir(workRoot, runId), `batch-${batch}`);
  return { dir, inputs: path.join(dir, 'inputs'), outputs: path.join(dir, 'outputs') };
}

/**
 * The file name a `stdout`/`stderr` output gets when the RED names none: a
 * version-4-shaped UUID (as CC's random name looks) derived from run id, batch and
 * stream, so a resumed batch knows it.
 */
export function captureFileName(runId: string, batch: number, stream: 'stdout' | 'stderr'): string {
  const h = createHash('sha256').update(`redlab-capture\0${runId}\0${batch}\0${stream}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
