// The whole Slurm job of one batch in one readable place, as cwltool builds a container
// invocation: the #SBATCH lines (resources from the RED, the site's partition/account/qos,
// where stdout/stderr go) and the ch-run line that starts the RED's command in its image
// with the batch's inputs and outputs bound at /cc/inputs and /cc/outputs. Pure: the same
// plan always gives the same script (unit tested; the engine writes it and runs sbatch).
import type { SlurmSettings } from './settings';

export interface JobScriptSpec {
  /** Shown by squeue: redlab-<run id>-<batch>. */
  jobName: string;
  /** org.redlab.run=…,org.redlab.batch=… in the job's comment: a restarted bridge finds its jobs by it. */
  comment: string;
  /** The RED's command line as the container runs it. */
  command: string[];
  /** The image, converted for Charliecloud (a directory tree). */
  imageDir: string;
  /** Host folders bound into the container. */
  inputsDir: string;
  outputsDir: string;
  /** The batch's private /tmp (also HOME), as the process engine gives each batch its own. */
  tmpDir: string;
  /** Where Slurm writes the job's stdout and stderr (followed for live logs). */
  stdoutFile: string;
  stderrFile: string;
  /** The command's exit code is written here (kept for a restarted bridge, whatever Slurm still remembers). */
  exitFile: string;
  /** The job's working folder on the node (the batch's work folder). */
  workDir: string;
  /** container.settings.ram (MB) → --mem. */
  ramMb?: number;
  /** GPUs → --gres=<gres>:N. */
  gpus?: number;
  settings: Pick<SlurmSettings, 'partition' | 'account' | 'qos' | 'timeLimit' | 'gpuGres'>;
  /** The run's wall-clock limit, when no timeLimit is set: --time in whole minutes (rounded up). */
  wallClockLimitMs?: number;
  /** ch-run as the node finds it (default: `ch-run` on the job's PATH). */
  chRun?: string;
}

/** Paths go on #SBATCH lines and into the script unquoted by Slurm: only these characters. */
const SAFE_PATH = /^\/[A-Za-z0-9_.+\-/@=,]*$/;

export class JobScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobScriptError';
  }
}

/** One shell word: single-quoted unless it needs no quotes. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_.+\-/@=:,%]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function checkPath(what: string, p: string): string {
  if (!SAFE_PATH.test(p)) {
    throw new JobScriptError(
      `${what} ${JSON.stringify(p)} cannot go into a Slurm job script (only letters, digits and _ . + - / @ = , are safe there); ` +
        'choose a work folder whose path has none of the others (the Slurm engine\'s workDir setting, or execution.settings.workDir)'
    );
  }
  return p;
}

/** --time from the wall-clock limit: whole minutes, at least 1. */
export function minutesOf(ms: number): number {
  return Math.max(1, Math.ceil(ms / 60_000));
}

export function buildJobScript(spec: JobScriptSpec): string {
  if (!spec.command.length) throw new JobScriptError('the command line is empty');
  for (const [what, p] of [
    ['the image folder', spec.imageDir],
    ['the inputs folder', spec.inputsDir],
    ['the outputs folder', spec.outputsDir],
    ['the temporary folder', spec.tmpDir],
    ['the stdout file', spec.stdoutFile],
    ['the stderr file', spec.stderrFile],
    ['the exit code file', spec.exitFile],
    ['the work folder', spec.workDir]
  ] as const) {
    checkPath(what, p);
  }
  const s = spec.settings;
  const sbatch: string[] = [
    `--job-name=${spec.jobName.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    `--comment=${spec.comment.replace(/[^A-Za-z0-9_.=,-]/g, '_')}`,
    `--output=${spec.stdoutFile}`,
    `--error=${spec.stderrFile}`,
    `--chdir=${spec.workDir}`,
    '--nodes=1',
    '--ntasks=1',
    // A batch never runs twice by itself: a retried job would write into outputs a first try left.
    '--no-requeue'
  ];
  if (spec.ramMb !== undefined) sbatch.push(`--mem=${Math.ceil(spec.ramMb)}M`);
  if (spec.gpus) sbatch.push(`--gres=${s.gpuGres ?? 'gpu'}:${spec.gpus}`);
  if (s.timeLimit) sbatch.push(`--time=${s.timeLimit}`);
  else if (spec.wallClockLimitMs !== undefined) sbatch.push(`--time=${minutesOf(spec.wallClockLimitMs)}`);
  if (s.partition) sbatch.push(`--partition=${s.partition}`);
  if (s.account) sbatch.push(`--account=${s.account}`);
  if (s.qos) sbatch.push(`--qos=${s.qos}`);

  const chRun = [
    spec.chRun ?? 'ch-run',
    // Nothing of the job's environment reaches the command: only the image's own (/ch/environment, as
    // Docker gives a container the image's ENV), HOME, and the GPUs Slurm gave the job.
    "--unset-env='*'",
    '--set-env',
    '--set-env=HOME=/tmp',
    ...(spec.gpus ? ['--set-env="CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-}"'] : []),
    `-b ${spec.inputsDir}:/cc/inputs`,
    `-b ${spec.outputsDir}:/cc/outputs`,
    `-b ${spec.tmpDir}:/tmp`,
    '-c /cc/outputs',
    spec.imageDir,
    '--',
    ...spec.command.map(shellQuote)
  ].join(' ');

  return [
    '#!/bin/sh',
    `# RED Lab: one batch of a RED, run in its image by Charliecloud (ch-run: no daemon, no root).`,
    ...sbatch.map(o => `#SBATCH ${o}`),
    // ch-run refuses to start without $USER, which a batch job need not have.
    'USER="${USER:-$(id -un)}"',
    'export USER',
    chRun,
    'code=$?',
    `printf '%s\\n' "$code" > ${spec.exitFile}.part && mv -f ${spec.exitFile}.part ${spec.exitFile}`,
    'exit "$code"',
    ''
  ].join('\n');
}
