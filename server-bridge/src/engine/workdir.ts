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

export interface BatchWorkDir {
  /** `<workRoot>/<runId>/batch-<n>` */
  dir: string;
  /** `<dir>/inputs` */
  inputs: string;
  /** `<dir>/outputs`, the container's /cc/outputs. */
  outputs: string;
}

/** The default work root: `<os.tmpdir()>/redlab-runs`. The bridge passes one under its data dir. */
export function defaultWorkRoot(): string {
  return path.join(os.tmpdir(), 'redlab-runs');
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
