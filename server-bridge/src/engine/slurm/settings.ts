// What a Slurm run is told: the engine's own options (bridge flags, environment) with the
// RED's `execution.settings` over them (execution.engine: slurm). Validated here once, so
// the job script and the engine only ever see checked values.
import * as path from 'path';
import { SLURM_RUNTIMES, slurmSettings, timeLimitProblem, type Red, type SlurmRuntime, type SlurmSettings } from '../../../../src/red';

export type { SlurmSettings };
/** The HPC container runtimes a job can start its container with so far (the RED format names more). */
export const SUPPORTED_RUNTIMES: readonly SlurmRuntime[] = ['charliecloud'];

/** Where a setting came from, for error messages. */
export type SettingsSource = 'execution.settings' | 'the bridge settings';

export class SlurmSettingsError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly fix: string
  ) {
    super(`${field}: ${message}; ${fix}`);
    this.name = 'SlurmSettingsError';
  }
}

/** Partition, account and qos names go on an #SBATCH line: no spaces, quotes or shell characters. */
const SLURM_NAME = /^[A-Za-z0-9_.+,-]{1,128}$/;

/** The RED's Slurm settings (execution.engine: slurm; checked when the RED was loaded), else none. */
export function redSlurmSettings(red: Red): Record<string, unknown> {
  return { ...(slurmSettings(red) ?? {}) };
}

/** The engine's options with the RED's settings over them, checked: throws SlurmSettingsError naming the field and the fix. */
export function resolveSlurmSettings(engineDefaults: SlurmSettings, fromRed: Record<string, unknown>): SlurmSettings {
  const s: SlurmSettings = { ...engineDefaults, ...(fromRed as SlurmSettings) };
  const field = (k: string) => (k in fromRed ? `execution.settings.${k}` : `the Slurm engine's ${k} setting`);
  // A RED's own were checked when it was loaded; the engine's defaults (flags, environment) are checked here.
  for (const k of ['partition', 'account', 'qos'] as const) {
    const v = s[k];
    if (v !== undefined && (typeof v !== 'string' || !SLURM_NAME.test(v))) {
      throw new SlurmSettingsError(field(k), `${JSON.stringify(v)} is not a Slurm ${k} name`, `give the name as sinfo/sacctmgr show it (letters, digits, _ . + -)`);
    }
  }
  if (s.timeLimit !== undefined) {
    const problem = typeof s.timeLimit === 'string' ? timeLimitProblem(s.timeLimit) : { message: `${JSON.stringify(s.timeLimit)} is not text`, fix: 'write it as "HH:MM:SS" or "D-HH:MM:SS"' };
    if (problem) throw new SlurmSettingsError(field('timeLimit'), problem.message, problem.fix);
  }
  const runtime = s.runtime ?? 'charliecloud';
  if (!SUPPORTED_RUNTIMES.includes(runtime)) {
    throw new SlurmSettingsError(
      field('runtime'),
      (SLURM_RUNTIMES as readonly string[]).includes(runtime) ? `RED Lab cannot start containers with ${runtime} on Slurm yet` : `there is no container runtime "${runtime}"`,
      'use runtime: charliecloud (ch-run, no daemon or root needed), or leave runtime out'
    );
  }
  s.runtime = runtime;
  if (s.workDir !== undefined && (typeof s.workDir !== 'string' || !path.isAbsolute(s.workDir))) {
    throw new SlurmSettingsError(field('workDir'), `${JSON.stringify(s.workDir)} is not an absolute path`, 'give the absolute path of a folder that the submit host and every node see at the same place');
  }
  if (s.concurrency !== undefined && !(Number.isSafeInteger(s.concurrency) && s.concurrency >= 1)) {
    throw new SlurmSettingsError(field('concurrency'), `${JSON.stringify(s.concurrency)} is not a whole number of at least 1`, 'give how many batches may be in Slurm at once, e.g. 8');
  }
  if (s.gpuGres !== undefined && (typeof s.gpuGres !== 'string' || !s.gpuGres.split(':').every(p => SLURM_NAME.test(p)) || s.gpuGres.split(':').length > 2)) {
    throw new SlurmSettingsError(field('gpuGres'), `${JSON.stringify(s.gpuGres)} is not a gres name`, 'give the name gres.conf uses, optionally with a type, e.g. "gpu" or "gpu:a100"');
  }
  if (s.submit?.host !== undefined) {
    throw new SlurmSettingsError(field('submit'), 'submitting over SSH is not built yet', 'run the bridge or redlab on a host that has sbatch (a login node), and leave submit out');
  }
  if (s.restUrl !== undefined) {
    throw new SlurmSettingsError(field('restUrl'), 'submitting through slurmrestd is not built yet', 'leave restUrl out: the engine runs sbatch on this host');
  }
  return s;
}
