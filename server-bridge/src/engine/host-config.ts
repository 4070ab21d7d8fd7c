// The container's create options, built only from validated RED fields and what
// staging made: no capabilities, no privilege escalation, memory and process
// limits, capped logs, read-only input binds and one read-write outputs bind.
import type Docker from 'dockerode';
import { CONTAINER_OUTPUTS_DIR } from './red-deps';
import type { GpuSelection } from './gpu';

/** RAM when container.settings.ram is absent (MB). CC sets no limit then; RED Lab caps it so a runaway experiment cannot take the host down. */
export const DEFAULT_RAM_MB = 4096;
/** Below this Docker refuses to create a container (its minimum is 6 MB). */
export const MIN_RAM_MB = 8;
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
  /** Host folder mounted read-write at /cc/outputs (the working directory). */
  outputsHostDir: string;
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

export function ramBytes(ramMb: number | null | undefined): number {
  if (ramMb === null) return 0;
  const mb = ramMb ?? DEFAULT_RAM_MB;
  if (!Number.isFinite(mb) || mb < MIN_RAM_MB) throw new Error(`container.settings.ram must be at least ${MIN_RAM_MB} (MB), not ${String(ramMb)}`);
  return Math.round(mb) * 1024 * 1024;
}

export function buildHostConfig(plan: ContainerPlan): Docker.HostConfig {
  const memory = ramBytes(plan.ramMb);
  const binds = [
    ...plan.inputBinds.map(b => bindSpec({ ...b, readOnly: true })),
    bindSpec({ hostPath: plan.outputsHostDir, containerPath: CONTAINER_OUTPUTS_DIR, readOnly: false })
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

export function buildLabels(plan: Pick<ContainerPlan, 'labels' | 'runId' | 'batch'>): Record<string, string> {
  return { ...(plan.labels ?? {}), [LABEL_MANAGED]: 'true', [LABEL_RUN]: plan.runId, [LABEL_BATCH]: String(plan.batch) };
}

export function buildCreateOptions(plan: ContainerPlan): Docker.ContainerCreateOptions {
  if (!plan.cmd.length) throw new Error('the command is empty: give cli.baseCommand (or inputs bound to positions)');
  const opts: Docker.ContainerCreateOptions = {
    name: plan.name,
    Image: plan.image,
    Cmd: plan.cmd,
    WorkingDir: CONTAINER_OUTPUTS_DIR,
    Labels: buildLabels(plan),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    AttachStdin: false,
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
