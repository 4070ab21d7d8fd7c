// Slurm's own commands (sbatch, squeue, scontrol, scancel, sinfo) run on this host, with
// their answers parsed. The one place that knows their output formats. sbatch gets a small,
// fixed environment: a job inherits the submitter's environment by default, and the
// bridge's (its token, DOCKER_HOST, cloud keys) must never reach a job.
import { execFile } from 'child_process';
import { existsSync } from 'fs';

/** Job states after which a job does nothing more (squeue %T, scontrol JobState). */
export const FINAL_JOB_STATES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'SPECIAL_EXIT'] as const;

export function isFinalJobState(state: string): boolean {
  return (FINAL_JOB_STATES as readonly string[]).includes(state.split(/[ +]/)[0]);
}

/** The variables Slurm's commands (and so the jobs) get from this process's environment. */
const PASSED_ENV = ['PATH', 'LANG', 'LC_ALL', 'SLURM_CONF', 'USER', 'LOGNAME', 'HOME'] as const;

export class SlurmCommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | string | undefined,
    readonly stderr: string
  ) {
    super(`${command} failed${code !== undefined ? ` (${typeof code === 'number' ? `exit code ${code}` : code})` : ''}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.name = 'SlurmCommandError';
  }

  /** The controller is busy or briefly unreachable: trying again can help. */
  get transient(): boolean {
    return /temporarily|timed out|try again|unable to contact slurm controller|connection refused|resource temporarily unavailable|communication connection failure|slurm_persist_conn|Zero Bytes were transmitted/i.test(this.stderr);
  }

  get notFound(): boolean {
    return this.code === 'ENOENT';
  }
}

export interface SlurmJobInfo {
  id: string;
  state: string;
  /** The job's exit code (ExitCode=N:S: N), when it has ended. */
  exitCode?: number;
  /** The signal that ended it (ExitCode=N:S: S, when not 0). */
  signal?: number;
  reason?: string;
  nodes?: string;
}

export interface SlurmNode {
  name: string;
  state: string;
  cpus: number;
  gpus: number;
  gpusAllocated: number;
}

/** `Key=Value Key2=Value2 …` of `scontrol show … -o` (values may hold spaces only in a few keys we do not read). */
export function parseScontrolLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.trim().matchAll(/(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=(\S*)/g)) out[m[1]] = m[2];
  return out;
}

/**
 * GPUs in a node's Gres or GresUsed field (`scontrol show node -d`): `gpu:2`, `gpu:a100:2(S:0-1)`,
 * `gpu:a100:1(IDX:0),gpu:v100:0(IDX:N/A)`; other gres are not counted.
 */
export function gpusInGres(gres: string | undefined): number {
  let n = 0;
  for (const part of (gres ?? '').split(/,(?![^(]*\))/)) {
    const m = /^gpu(?::[^:(]+)?:(\d+)(?:\(.*\))?$/.exec(part.trim());
    if (m) n += Number(m[1]);
  }
  return n;
}

export function parseJobInfo(line: string): SlurmJobInfo {
  const kv = parseScontrolLine(line);
  const info: SlurmJobInfo = { id: kv.JobId, state: kv.JobState ?? 'UNKNOWN' };
  const ec = /^(\d+):(\d+)$/.exec(kv.ExitCode ?? '');
  if (ec) {
    info.exitCode = Number(ec[1]);
    if (Number(ec[2])) info.signal = Number(ec[2]);
  }
  if (kv.Reason && kv.Reason !== 'None') info.reason = kv.Reason;
  if (kv.NodeList && kv.NodeList !== '(null)') info.nodes = kv.NodeList;
  return info;
}

export function parseNodes(text: string): SlurmNode[] {
  return text
    .split('\n')
    .filter(l => l.trim() && !/^No nodes/i.test(l))
    .map(l => {
      const kv = parseScontrolLine(l);
      return { name: kv.NodeName, state: kv.State ?? 'UNKNOWN', cpus: Number(kv.CPUTot ?? 0), gpus: gpusInGres(kv.Gres), gpusAllocated: gpusInGres(kv.GresUsed) };
    });
}

export interface SlurmCliOptions {
  /** Where PATH, SLURM_CONF, … come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Tries of a submission that failed for a transient reason (default 4), with growing pauses. */
  submitTries?: number;
  retryPauseMs?: number;
  /** Each command's own time limit (default 30 s). */
  timeoutMs?: number;
}

export class SlurmCli {
  constructor(private readonly opts: SlurmCliOptions = {}) {}

  get env(): NodeJS.ProcessEnv {
    const from = this.opts.env ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    for (const k of PASSED_ENV) if (from[k] !== undefined) env[k] = from[k];
    return env;
  }

  run(cmd: string, args: string[], timeoutMs = this.opts.timeoutMs ?? 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { env: this.env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          reject(new SlurmCommandError(`${cmd} ${args.join(' ')}`, typeof code === 'number' || typeof code === 'string' ? code : undefined, String(stderr || err.message)));
        } else resolve(String(stdout));
      });
    });
  }

  /** `sbatch --parsable SCRIPT` → the job id; transient refusals are tried again (`onRetry` says so). */
  async submit(scriptPath: string, onRetry?: (err: SlurmCommandError, attempt: number) => void): Promise<string> {
    const tries = this.opts.submitTries ?? 4;
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.run('sbatch', ['--parsable', scriptPath]);
        const id = out.trim().split(';')[0];
        if (!/^\d+$/.test(id)) throw new SlurmCommandError('sbatch --parsable', undefined, `it answered ${JSON.stringify(out.trim())}, not a job id`);
        return id;
      } catch (err) {
        if (!(err instanceof SlurmCommandError) || !err.transient || attempt >= tries) throw err;
        onRetry?.(err, attempt);
        await new Promise(r => setTimeout(r, (this.opts.retryPauseMs ?? 500) * 2 ** (attempt - 1)));
      }
    }
  }

  /** The state of each job Slurm still knows (squeue --states=all); jobs it forgot are absent. */
  async states(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!ids.length) return out;
    let text: string;
    try {
      text = await this.run('squeue', ['--noheader', '--states=all', '--format=%i|%T', `--jobs=${ids.join(',')}`]);
    } catch (err) {
      // One id Slurm no longer knows makes squeue fail: ask one by one then.
      if (err instanceof SlurmCommandError && /invalid job id/i.test(err.stderr) && ids.length > 1) {
        for (const id of ids) for (const [k, v] of await this.states([id])) out.set(k, v);
        return out;
      }
      if (err instanceof SlurmCommandError && /invalid job id/i.test(err.stderr)) return out;
      throw err;
    }
    for (const line of text.split('\n')) {
      const [id, state] = line.trim().split('|');
      if (id && state) out.set(id, state);
    }
    return out;
  }

  /** `scontrol show job -o ID`; undefined when Slurm no longer knows the job. */
  async job(id: string): Promise<SlurmJobInfo | undefined> {
    try {
      const text = await this.run('scontrol', ['show', 'job', '-o', id]);
      const line = text.split('\n').find(l => l.includes('JobId='));
      return line ? parseJobInfo(line) : undefined;
    } catch (err) {
      if (err instanceof SlurmCommandError && /invalid job id/i.test(err.stderr)) return undefined;
      throw err;
    }
  }

  /** Jobs by their comment (org.redlab.run=…): what a restarted bridge looks for. */
  async jobsWithComment(prefix: string): Promise<{ id: string; state: string; comment: string }[]> {
    const text = await this.run('squeue', ['--noheader', '--states=all', '--format=%i|%T|%k']);
    return text
      .split('\n')
      .map(l => l.trim().split('|'))
      .filter(([id, , comment]) => id && comment?.startsWith(prefix))
      .map(([id, state, comment]) => ({ id, state, comment }));
  }

  /**
   * Throws, saying what to check, unless slurmctld answers (`scontrol ping`). Slurm's commands
   * retry a missing configuration for a minute: a run says so at once instead.
   */
  async ping(): Promise<void> {
    const conf = this.env.SLURM_CONF;
    if (conf && !existsSync(conf)) throw new Error(`SLURM_CONF names ${conf}, which does not exist: point it at the cluster's slurm.conf, or unset it to use the default (/etc/slurm/slurm.conf)`);
    let out: string;
    try {
      out = await this.run('scontrol', ['ping'], 10_000);
    } catch (err) {
      if (err instanceof SlurmCommandError && err.notFound) throw new Error("Slurm's commands (scontrol, sbatch) are not on this host's PATH: run on a login node of the cluster, or install slurm-client");
      throw new Error(`Slurm's controller does not answer from this host (${(err as Error).message}); check that slurmctld runs and that SLURM_CONF is the cluster's slurm.conf`);
    }
    if (!/\bis UP\b/.test(out)) throw new Error(`Slurm's controller is not up: ${out.trim()}; ask the cluster's administrators, or see scontrol ping`);
  }

  async cancel(id: string): Promise<void> {
    await this.run('scancel', [id]);
  }

  async version(): Promise<string> {
    const out = await this.run('sinfo', ['--version']);
    // "slurm 22.05.8", or "slurm-wlm 22.05.8" as Debian builds it.
    return /(\d+\.\d+(?:\.\d+)?)/.exec(out)?.[1] ?? out.trim();
  }

  async nodes(): Promise<SlurmNode[]> {
    return parseNodes(await this.run('scontrol', ['show', 'node', '--details', '--oneliner']));
  }
}
