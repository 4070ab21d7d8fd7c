// Why a run did not succeed, told the way a user fixes it: out of memory, a missing
// image, no GPU, the notebook's own error (exit code). Pure.
import type { FinalState } from '../red';
import { RUNNER_STATUS_PREFIX } from './logs';
import type { FailureView } from './types';

export interface FailureFacts {
  state: FinalState;
  error?: string;
  exitCode?: number;
  oomKilled?: boolean;
  /** RAM limit of the container in MB, for the out-of-memory advice. */
  ramMb?: number;
  /** The last stderr lines the cell kept: the runner says there which cell raised what. */
  stderrTail?: readonly string[];
}

const IMAGE_MISSING = /no such image|pull access denied|manifest (for .* )?(unknown|not found)|repository does not exist|image .*(not found|not available|is not present)|could not (find|pull) (the )?image/i;
const NO_GPU = /gpu|nvidia|could not select device driver|cuda/i;
const OOM = /out of memory|oom[- ]?kill|memory limit/i;

export function describeFailure(f: FailureFacts): FailureView | undefined {
  if (f.state === 'succeeded') return undefined;
  // The bridge's error may go on with the stderr tail: the cell shows its own stderr lines.
  const error = (f.error ?? '').trim().split('\n')[0].replace(/[;:,]? *its stderr ends with:?$/, '');
  if (f.state === 'cancelled') return { kind: 'cancelled', reason: error || 'the run was cancelled' };
  if (f.oomKilled || OOM.test(error)) {
    return {
      kind: 'out-of-memory',
      reason: `the container ran out of memory${f.ramMb ? ` (RAM limit ${f.ramMb} MB)` : ''} and was killed`,
      fix: 'raise RAM in the RED panel (Resources), or make the notebook use less memory'
    };
  }
  if (IMAGE_MISSING.test(error)) {
    return {
      kind: 'image-missing',
      reason: error,
      fix: 'pick a local image in the RED panel, build one from requirements.txt / environment.yml, or check the image name'
    };
  }
  if (NO_GPU.test(error)) {
    return {
      kind: 'no-gpu',
      reason: error,
      fix: 'ask for fewer GPUs (or none) in the RED panel, or run on a machine whose bridge lists GPUs'
    };
  }
  // Before the run record is read, the bridge's error is what tells the exit code.
  const exitCode = f.exitCode ?? exitCodeIn(error);
  if (exitCode !== undefined && exitCode !== 0) {
    return {
      kind: 'exit-code',
      reason: runnerFailure(f.stderrTail) ?? (error || `the notebook stopped with exit code ${exitCode}`),
      fix: 'read the stderr lines below: the notebook raised an error while it ran'
    };
  }
  return { kind: 'other', reason: error || 'the run failed' };
}

/** Exception name for the cell's `error` output. */
export function failureName(kind: FailureView['kind']): string {
  switch (kind) {
    case 'out-of-memory':
      return 'OutOfMemory';
    case 'image-missing':
      return 'ImageNotFound';
    case 'no-gpu':
      return 'NoGpuAvailable';
    case 'exit-code':
      return 'NotebookFailed';
    case 'cancelled':
      return 'RunCancelled';
    default:
      return 'RunFailed';
  }
}

function exitCodeIn(error: string): number | undefined {
  const m = /\bexited with (?:exit )?code (\d+)/.exec(error);
  return m ? Number(m[1]) : undefined;
}

/**
 * The runner's own line about the cell that raised (`redlab_nbrun: cell 3 (In [3]) raised
 * ZeroDivisionError: division by zero; the remaining cells were not run; …`), up to the first `;`.
 */
export function runnerFailure(stderrTail: readonly string[] | undefined): string | undefined {
  for (let i = (stderrTail?.length ?? 0) - 1; i >= 0; i--) {
    const line = stderrTail![i];
    if (!line.startsWith(RUNNER_STATUS_PREFIX)) continue;
    const text = line.slice(RUNNER_STATUS_PREFIX.length);
    if (/ raised /.test(text)) return text.split('; ')[0].trim();
  }
  return undefined;
}
