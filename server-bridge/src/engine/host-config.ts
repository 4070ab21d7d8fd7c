// The container's create options, built only from validated RED fields and what
// staging made: no capabilities, no privilege escalation, memory and process
// limits, capped logs, read-only input binds and one read-write outputs bind.
import type Docker from 'dockerode';
import { RAM_RANGE_FIX, ramExceedsEngine, ramRangeProblem, CONTAINER_OUTPUTS_DIR } from '../../../src/red';
import type { GpuSelection } from './gpu';

export { RAM_MIN_MB, RAM_MAX_MB } from '../../../src/red';

/** RAM when container.settings.ram is absent (MB). CC sets no limit then; RED Lab caps it so a runaway experiment cannot take the host down. */
export const DEFAULT_RAM_MB = 4096;
export const DEFAULT_PIDS_LIMIT = 4096;
/**
 * Docker keeps each container's log (json-file driver) in up to DEFAULT_LOG_MAX_FILE
 * files of DEFAULT_LOG_MAX_SIZE, the older ones gzipped: 10 × 100 MB = 1 GB of
 * json-file entries. An entry costs ~70 bytes on top of its line (JSON, stream, time
 * stamp), so this holds ~850 MB of output in 500-byte lines, ~600 MB in 100-byte lines
 * and still ~260 MB in 25-byte lines: a bridge that restarts reads the whole log of a
 * container that wrote 250 MB back with `docker logs`. The disk it takes is 100 MB for
 * the current file plus the compressed older ones (text compresses ~5–20×).
 */
export const DEFAULT_LOG_MAX_SIZE = '100m';
export const DEFAULT_LOG_MAX_FILE = '10';
export const DEFAULT_LOG_COMPRESS = 'true';

export const LABEL_MANAGED = 'org.redlab.managed';
export const LABEL_RUN = 'org.redlab.run';
export const LABEL_BATCH = 'org.redlab.batch';
/** A session's container: never one of a run's (recovery looks for those by LABEL_MANAGED). */
export const LABEL_SESSION = 'org.redlab.session';

export interface BindMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

export interface ContainerPlan {
  /** Image reference or ID. */
  image: string;
  /** argv from buildCommand; runs without a shell. */
  cmd: string[];
  name?: string;
  /** container.settings.ram in MB; undefined → DEFAULT_RAM_MB; null → no limit. */
  ramMb?: number | null;
  gpus?: GpuSelection | null;
  /** Read-only input binds staging made. */
  inputBinds: BindMount[];
  /** Inputs the RED lets the container write: `mount: true` with access.writable (connectors/mounts.ts), bound read-write. */
  writableInputBinds?: BindMount[];
  /** Host folder mounted read-write at /cc/outputs (the working directory); absent where nothing is bound (the engine copies). */
  outputsHostDir?: string;
  /** A session's working directory instead of /cc/outputs: a host folder (checked by the caller) bound read-write at `containerPath`. */
  workDir?: { hostPath: string; containerPath: string };
  /** Keep stdin open (a session's runner reads its requests there). */
  stdin?: boolean;
  /** A session's id: the container is labelled as that session's, not as a run's batch. */
  session?: string;
  runId: string;
  batch: number;
  /** Extra labels (the bridge's run id …); cannot override RED Lab's own. */
  labels?: Record<string, string>;
  /** `uid:gid` to run as; undefined keeps the image's user. */
  user?: string;
  /** 'clear' (default): the command runs as given, as CC's agent runs it; 'image': behind the image's ENTRYPOINT. */
  entrypoint?: 'clear' | 'image';
  pidsLimit?: number;
  logMaxSize?: string;
  logMaxFile?: string;
}

/** A Binds entry; refuses paths Docker's `src:dst:mode` syntax cannot hold. */
export function bindSpec(b: BindMount): string {
  for (const p of [b.hostPath, b.containerPath]) {
    if (!p.startsWith('/')) throw new Error(`bind mount path ${p} must be absolute`);
    if (p.includes(':') || p.includes('\0')) throw new Error(`bind mount path ${p} contains ':' and cannot be mounted`);
  }
  return `${b.hostPath}:${b.containerPath}:${b.readOnly ? 'ro' : 'rw'}`;
}

/** Docker's Memory for a RAM in MB (0: no limit); refuses what the RED schema refuses (RAM_MIN_MB..RAM_MAX_MB, whole). */
export function ramBytes(ramMb: number | null | undefined): number {
  if (ramMb === null) return 0;
  const mb = ramMb ?? DEFAULT_RAM_MB;
  const problem = ramRangeProblem(mb);
  if (problem) throw new Error(`container.settings.ram ${problem}: ${RAM_RANGE_FIX}`);
  return mb * 1024 * 1024;
}

/** How long `docker info` may take before the RAM check is skipped (the run then meets the engine's own errors). */
const ENGINE_INFO_TIMEOUT_MS = 10_000;

/** The engine's memory in bytes (`docker info` MemTotal); undefined when Docker does not say in time. */
export async function engineMemTotal(docker: Pick<Docker, 'info'>): Promise<number | undefined> {
  let giveUp = () => {};
  const late = new Promise<undefined>(resolve => (giveUp = () => resolve(undefined)));
  const timer = setTimeout(giveUp, ENGINE_INFO_TIMEOUT_MS);
  try {
    const info = (await Promise.race([docker.info(), late])) as { MemTotal?: unknown } | undefined;
    return typeof info?.MemTotal === 'number' && info.MemTotal > 0 ? info.MemTotal : undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why a RAM limit of `ramMb` cannot run on this engine (more than its memory), or
 * undefined when it can or none is asked for. Docker takes any limit, so one the host
 * cannot meet would run as no limit at all.
 */
export async function ramOverEngine(docker: Pick<Docker, 'info'>, ramMb: number | null | undefined): Promise<{ message: string; fix: string } | undefined> {
  if (ramMb === null || ramMb === undefined) return undefined;
  const memTotal = await engineMemTotal(docker);
  return memTotal === undefined ? undefined : ramExceedsEngine(ramMb, memTotal);
}

/** Throws ramOverEngine's message and fix. */
export async function checkRamFitsEngine(docker: Pick<Docker, 'info'>, ramMb: number | null | undefined): Promise<void> {
  const over = await ramOverEngine(docker, ramMb);
  if (over) throw new Error(`${over.message}: ${over.fix}`);
}

export function buildHostConfig(plan: ContainerPlan): Docker.HostConfig {
  const memory = ramBytes(plan.ramMb);
  const binds = [
    ...plan.inputBinds.map(b => bindSpec({ ...b, readOnly: true })),
    ...(plan.writableInputBinds ?? []).map(b => bindSpec({ ...b, readOnly: false })),
    ...(plan.outputsHostDir ? [bindSpec({ hostPath: plan.outputsHostDir, containerPath: CONTAINER_OUTPUTS_DIR, readOnly: false })] : []),
    ...(plan.workDir ? [bindSpec({ ...plan.workDir, readOnly: false })] : [])
  ];
  const hc: Docker.HostConfig = {
    Binds: binds,
    Memory: memory,
    // Equal to Memory: no swap on top of the limit (CC: memswap_limit = mem_limit).
    MemorySwap: memory,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    PidsLimit: plan.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    Init: true,
    Privileged: false,
    AutoRemove: false,
    LogConfig: {
      Type: 'json-file',
      Config: { 'max-size': plan.logMaxSize ?? DEFAULT_LOG_MAX_SIZE, 'max-file': plan.logMaxFile ?? DEFAULT_LOG_MAX_FILE, compress: DEFAULT_LOG_COMPRESS }
    },
    // CC's agent sets this nofile limit too.
    Ulimits: [{ Name: 'nofile', Soft: 4096, Hard: 4096 }]
  };
  if (plan.gpus) hc.DeviceRequests = plan.gpus.deviceRequests;
  return hc;
}

export function buildLabels(plan: Pick<ContainerPlan, 'labels' | 'runId' | 'batch' | 'session'>): Record<string, string> {
  if (plan.session !== undefined) return { ...(plan.labels ?? {}), [LABEL_SESSION]: plan.session };
  return { ...(plan.labels ?? {}), [LABEL_MANAGED]: 'true', [LABEL_RUN]: plan.runId, [LABEL_BATCH]: String(plan.batch) };
}

export function buildCreateOptions(plan: ContainerPlan): Docker.ContainerCreateOptions {
  if (!plan.cmd.length) throw new Error('the command is empty: give cli.baseCommand (or inputs bound to positions)');
  const opts: Docker.ContainerCreateOptions = {
    name: plan.name,
    Image: plan.image,
    Cmd: plan.cmd,
    WorkingDir: plan.workDir?.containerPath ?? CONTAINER_OUTPUTS_DIR,
    Labels: buildLabels(plan),
    Tty: false,
    OpenStdin: plan.stdin === true,
    StdinOnce: false,
    AttachStdin: plan.stdin === true,
    AttachStdout: true,
    AttachStderr: true,
    NetworkDisabled: false,
    HostConfig: buildHostConfig(plan)
  };
  // An empty list clears the image's ENTRYPOINT (null/absent would keep it).
  if ((plan.entrypoint ?? 'clear') === 'clear') opts.Entrypoint = [];
  if (plan.user) opts.User = plan.user;
  return opts;
}
