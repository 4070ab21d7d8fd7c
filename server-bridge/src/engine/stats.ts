// Resource samples of a running container from Docker's stats API (stream: true,
// about one object a second), turned into what `docker stats` shows: CPU % from
// the cpu_stats/precpu_stats deltas, memory without the page cache, the memory
// limit, the number of processes. Sampling never fails a run: errors end it quietly.
import type Docker from 'dockerode';

export interface ContainerStatsSample {
  /** As `docker stats`: 100 is one CPU fully busy (2 busy CPUs: 200). */
  cpuPercent: number;
  /** Memory in use, without the inactive page cache (as `docker stats`). */
  memoryBytes: number;
  /** The container's memory limit (the host's memory when it has none). */
  memoryLimitBytes: number;
  pids?: number;
}

/** The parts of Docker's stats JSON (API 1.41, cgroup v1 and v2) this reads. */
export interface DockerStatsJson {
  read?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
}

/**
 * One sample from one stats object, computed as the Docker CLI (20.10) does; null when
 * the object cannot give one: the first of a stream (no previous CPU reading) or the
 * zeroed object Docker sends for a container that is no longer running.
 */
export function computeStats(s: DockerStatsJson): ContainerStatsSample | null {
  if (!s || (s.read && s.read.startsWith('0001-'))) return null;
  const cpu = s.cpu_stats;
  const pre = s.precpu_stats;
  const mem = s.memory_stats;
  if (!cpu?.cpu_usage || !pre?.system_cpu_usage || !mem || mem.usage === undefined) return null;
  const cpuDelta = (cpu.cpu_usage.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu.system_cpu_usage ?? 0) - pre.system_cpu_usage;
  const online = cpu.online_cpus || cpu.cpu_usage.percpu_usage?.length || 1;
  const cpuPercent = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
  // cgroup v1 reports total_inactive_file, v2 inactive_file.
  const stats = mem.stats ?? {};
  const inactive = 'total_inactive_file' in stats ? stats.total_inactive_file : stats.inactive_file;
  const memoryBytes = inactive !== undefined && inactive < mem.usage ? mem.usage - inactive : mem.usage;
  const sample: ContainerStatsSample = {
    cpuPercent: Math.round(cpuPercent * 100) / 100,
    memoryBytes,
    memoryLimitBytes: mem.limit ?? 0
  };
  if (typeof s.pids_stats?.current === 'number') sample.pids = s.pids_stats.current;
  return sample;
}

export interface StatsOptions {
  /** At most one sample this often (ms); Docker's stream gives about one a second. Default 1000. */
  intervalMs?: number;
  onSample: (s: ContainerStatsSample) => void;
}

/**
 * Follows the container's stats stream until the returned function is called (or the
 * stream ends: Docker ends it when the container stops). Errors are swallowed.
 */
export function sampleStats(container: Docker.Container, o: StatsOptions): () => void {
  const interval = Math.max(0, o.intervalMs ?? 1000);
  let stopped = false;
  let stream: NodeJS.ReadableStream | undefined;
  let last = 0;
  let text = '';
  const onObject = (line: string) => {
    let raw: DockerStatsJson;
    try {
      raw = JSON.parse(line) as DockerStatsJson;
    } catch {
      return;
    }
    const sample = computeStats(raw);
    const now = Date.now();
    // Docker's cadence jitters around a second: allow 10% early.
    if (!sample || stopped || now - last < interval * 0.9) return;
    last = now;
    try {
      o.onSample(sample);
    } catch {
      /* a listener's failure is not the run's */
    }
  };
  container
    .stats({ stream: true })
    .then(s => {
      stream = s as unknown as NodeJS.ReadableStream;
      if (stopped) return destroy(stream);
      stream.on('error', () => undefined);
      stream.on('data', (chunk: Buffer | string) => {
        text += chunk.toString();
        let nl: number;
        while ((nl = text.indexOf('\n')) >= 0) {
          const line = text.slice(0, nl).trim();
          text = text.slice(nl + 1);
          if (line) onObject(line);
        }
      });
    })
    .catch(() => undefined);
  return () => {
    stopped = true;
    if (stream) destroy(stream);
  };
}

function destroy(s: NodeJS.ReadableStream): void {
  try {
    (s as unknown as { destroy?: () => void }).destroy?.();
  } catch {
    /* gone already */
  }
}
