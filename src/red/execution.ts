// The engine a RED's `execution` names, and what RED Lab's extensions of it mean for Curious
// Containers. Curious Containers knows two engines: ccfaice (run here) and ccagency (a CC-Agency
// server); RED Lab runs both on its default engine. RED Lab adds the engines it has (slurm,
// kubernetes, docker, docker-ssh, process), which faice and CC-Agency refuse: cc-core 9.3 says
// `execution-engine "slurm" not supported`. Time limits ("HH:MM:SS", "D-HH:MM:SS") are read here
// once, for the validator and the engines alike.
//
// Pure TypeScript: no DOM, no Node APIs.

import type { KubernetesSettings, RedIssue, SlurmSettings } from './types';

/** The engines of Curious Containers' RED format. */
export const CURIOUS_CONTAINERS_ENGINES = ['ccfaice', 'ccagency'] as const;
/** RED Lab's engines a RED may name in `execution.engine` (RED Lab extensions of the format). */
export const RED_LAB_ENGINES = ['docker', 'docker-ssh', 'process', 'slurm', 'kubernetes'] as const;
export type RedLabEngineName = (typeof RED_LAB_ENGINES)[number];

/** The container runtimes of `engine: slurm` (settings.runtime); the first is the default. */
export const SLURM_RUNTIMES = ['charliecloud', 'enroot', 'apptainer', 'podman', 'docker'] as const;
export type SlurmRuntime = (typeof SLURM_RUNTIMES)[number];
export const DEFAULT_SLURM_RUNTIME: SlurmRuntime = 'charliecloud';
/** The GRES name of GPUs when settings.gpuGres is left out (`--gres=gpu:N`). */
export const DEFAULT_GPU_GRES = 'gpu';
/** The longest time limit a RED may give (parseTimeLimit): 365 days, beyond any cluster's partitions. */
export const TIME_LIMIT_MAX_SECONDS = 365 * 24 * 3600;

/** A RED, or any document: only its `execution` is read. */
export interface WithExecution {
  execution?: unknown;
}

export interface ExecutionChoice {
  /** The RED Lab engine the RED names; undefined: RED Lab's default engine (ccfaice, ccagency or no execution). */
  engine?: RedLabEngineName;
  /** What to tell the user about the choice (ccagency: RED Lab does not submit to CC-Agency). */
  note?: string;
}

function engineOf(red: WithExecution): unknown {
  const exec = red.execution;
  return exec && typeof exec === 'object' && !Array.isArray(exec) ? (exec as { engine?: unknown }).engine : undefined;
}

function settingsOf(red: WithExecution): Record<string, unknown> | undefined {
  const s = red.execution && typeof red.execution === 'object' ? (red.execution as { settings?: unknown }).settings : undefined;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : undefined;
}

function isRedLabEngine(name: unknown): name is RedLabEngineName {
  return typeof name === 'string' && (RED_LAB_ENGINES as readonly string[]).includes(name);
}

const CCAGENCY_NOTE =
  `execution.engine: ccagency names a CC-Agency server, which RED Lab does not submit to: the RED runs on RED Lab's default engine. ` +
  `To run it elsewhere, name a RED Lab engine in execution.engine (${RED_LAB_ENGINES.join(', ')}).`;

/**
 * Which engine the RED asks for, with a note where the answer needs one. A validated RED only;
 * an engine neither Curious Containers nor RED Lab knows throws (the validator refuses it first).
 */
export function executionChoice(red: WithExecution): ExecutionChoice {
  const engine = engineOf(red);
  if (engine === undefined || engine === 'ccfaice') return {};
  if (engine === 'ccagency') return { note: CCAGENCY_NOTE };
  if (isRedLabEngine(engine)) return { engine };
  throw new Error(`execution.engine ${JSON.stringify(engine)} is not an engine RED Lab knows: use ${[...CURIOUS_CONTAINERS_ENGINES, ...RED_LAB_ENGINES].join(', ')}`);
}

/** The RED Lab engine the RED names (slurm, kubernetes, docker, docker-ssh, process), or undefined for the default engine. */
export function executionEngine(red: WithExecution): RedLabEngineName | undefined {
  return executionChoice(red).engine;
}

/** True when `execution.engine` is a RED Lab extension, which Curious Containers cannot run. */
export function isRedLabExtension(red: WithExecution): boolean {
  return isRedLabEngine(engineOf(red));
}

/** Why Curious Containers cannot run this RED, without the path: the text of curiousContainersIssues. */
function extensionWords(engine: RedLabEngineName): string {
  return `${engine} is a RED Lab extension; Curious Containers (faice/agency) cannot run it: they refuse the file (execution-engine "${engine}" not supported)`;
}

const EXTENSION_FIX = 'run it with RED Lab (redlab run), or for Curious Containers write execution: {engine: ccfaice, settings: {}} or leave execution out';

/**
 * The sentence for an export to Curious Containers of a RED with a RED Lab extension engine
 * ("execution.engine: slurm is a RED Lab extension; …"), or undefined when cc can run the RED.
 */
export function curiousContainersMessage(red: WithExecution): string | undefined {
  const engine = engineOf(red);
  return isRedLabEngine(engine) ? `execution.engine: ${extensionWords(engine)}` : undefined;
}

/** The same as a warning at execution.engine, with the fix (empty when Curious Containers can run the RED). */
export function curiousContainersIssues(red: WithExecution): RedIssue[] {
  const engine = engineOf(red);
  return isRedLabEngine(engine) ? [{ path: 'execution.engine', message: extensionWords(engine), fix: EXTENSION_FIX, severity: 'warning' }] : [];
}

/** The settings of `engine: slurm`, or undefined when the RED names another engine. */
export function slurmSettings(red: WithExecution): SlurmSettings | undefined {
  return engineOf(red) === 'slurm' ? ((settingsOf(red) ?? {}) as SlurmSettings) : undefined;
}

/** The settings of `engine: kubernetes`, or undefined when the RED names another engine. */
export function kubernetesSettings(red: WithExecution): KubernetesSettings | undefined {
  return engineOf(red) === 'kubernetes' ? ((settingsOf(red) ?? {}) as KubernetesSettings) : undefined;
}

/** At most this many batches at once, as the RED says (slurm/kubernetes concurrency, ccagency batchConcurrencyLimit), or undefined. */
export function executionConcurrency(red: WithExecution): number | undefined {
  const s = settingsOf(red);
  const engine = engineOf(red);
  const n = engine === 'ccagency' ? s?.batchConcurrencyLimit : engine === 'slurm' || engine === 'kubernetes' ? s?.concurrency : undefined;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : undefined;
}

// ---------------------------------------------------------------------------------------------
// Time limits.

/** A time limit that cannot be read: `message` says why, `fix` what to write. */
export class TimeLimitError extends Error {
  constructor(message: string, readonly fix: string) {
    super(message);
    this.name = 'TimeLimitError';
  }
}

const FORMATS = 'write "HH:MM:SS" or "D-HH:MM:SS", quoted, e.g. "02:00:00" (two hours) or "1-12:00:00" (a day and a half)';

/** "HH:MM:SS", or "D-HH:MM:SS" when it is a day or more: what sbatch --time takes (Slurm rounds seconds up to a minute). */
export function formatTimeLimit(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new RangeError(`a time limit is a whole number of seconds ≥ 0, got ${seconds}`);
  const days = Math.floor(seconds / 86400);
  const rest = seconds % 86400;
  const two = (n: number) => String(n).padStart(2, '0');
  const hms = `${two(Math.floor(rest / 3600))}:${two(Math.floor((rest % 3600) / 60))}:${two(rest % 60)}`;
  return days > 0 ? `${days}-${hms}` : hms;
}

/**
 * Seconds of a time limit: "HH:MM:SS" (hours may exceed 23) or "D-HH:MM:SS" (hours 0 to 23).
 * Minutes and seconds are two digits, 00 to 59. Throws TimeLimitError (with the fix) for
 * anything else: "MM:SS" and a bare number are refused because they are ambiguous (Slurm
 * reads "02:00" as two minutes, and a bare number as minutes, Kubernetes as seconds), zero
 * because Slurm reads it as no limit at all, and more than TIME_LIMIT_MAX_SECONDS.
 */
export function parseTimeLimit(text: string): number {
  if (typeof text !== 'string') throw new TimeLimitError(`a time limit is a quoted string, found ${JSON.stringify(text)}`, FORMATS);
  const t = text.trim();
  const shown = JSON.stringify(text);
  if (/^(unlimited|infinite)$/i.test(t)) {
    throw new TimeLimitError(`time limit ${shown} is not a limit`, "leave timeLimit out: the cluster's own limit applies");
  }
  const m = /^(?:(\d+)-)?(\d+):(\d+):(\d+)$/.exec(t);
  if (!m) {
    if (/^\d+:\d+$/.test(t)) {
      const [a, b] = t.split(':');
      throw new TimeLimitError(
        `time limit ${shown} is ambiguous: Slurm reads two parts as minutes:seconds`,
        `write all three parts: "00:${a.padStart(2, '0')}:${b.padStart(2, '0')}" for ${Number(a)} minutes, or "${a.padStart(2, '0')}:${b.padStart(2, '0')}:00" for ${Number(a)} hours`
      );
    }
    if (/^\d+$/.test(t)) {
      throw new TimeLimitError(
        `time limit ${shown} has no unit: Slurm reads a bare number as minutes, Kubernetes as seconds`,
        Number(t) * 60 <= TIME_LIMIT_MAX_SECONDS ? `write "HH:MM:SS" or "D-HH:MM:SS": "${formatTimeLimit(Number(t) * 60)}" for ${Number(t)} minutes` : FORMATS
      );
    }
    throw new TimeLimitError(`time limit ${shown} is not "HH:MM:SS" or "D-HH:MM:SS"`, FORMATS);
  }
  const [days, hours, minutes, seconds] = [m[1] === undefined ? 0 : Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  const total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
  const normal = Number.isSafeInteger(total) && total <= TIME_LIMIT_MAX_SECONDS ? `, i.e. "${formatTimeLimit(total)}"` : '';
  if (m[3].length !== 2 || m[4].length !== 2 || minutes > 59 || seconds > 59) {
    throw new TimeLimitError(`time limit ${shown}: minutes and seconds are two digits each, 00 to 59`, `write it as "HH:MM:SS"${normal}`);
  }
  if (m[1] !== undefined && hours > 23) {
    throw new TimeLimitError(`time limit ${shown}: after a day count the hours are 0 to 23`, `write it as "D-HH:MM:SS"${normal}`);
  }
  if (total === 0) {
    throw new TimeLimitError(`time limit ${shown} is zero, which Slurm reads as no limit at all`, 'give at least "00:00:01", or leave timeLimit out for the cluster\'s own limit');
  }
  if (total > TIME_LIMIT_MAX_SECONDS) {
    throw new TimeLimitError(`time limit ${shown} is more than 365 days`, "give at most \"365-00:00:00\", or leave timeLimit out for the cluster's own limit");
  }
  return total;
}

/** Why `text` is not a time limit (the message and fix of parseTimeLimit's error), or undefined when it is one. */
export function timeLimitProblem(text: string): { message: string; fix: string } | undefined {
  try {
    parseTimeLimit(text);
    return undefined;
  } catch (err) {
    if (err instanceof TimeLimitError) return { message: err.message, fix: err.fix };
    throw err;
  }
}
