// What crash recovery needs of Docker apart from the run pipeline: the engine's own
// containers found by label (org.redlab.managed), the messages for batches whose
// container is gone or never started, and the cut of a container's log that a store
// already holds (LogSkipper), so that a resumed batch adds only what is missing.
import type Docker from 'dockerode';
import type { ManagedContainer } from './types';
import { LABEL_BATCH, LABEL_MANAGED, LABEL_RUN } from './host-config';
import { dockerTime, type StreamName } from './container';

export const VANISHED_MESSAGE = 'the container vanished while the bridge was down';
export const NEVER_STARTED_MESSAGE = 'the bridge stopped before the container started; re-run it';
export const NEVER_CREATED_MESSAGE = "the bridge stopped before this batch's container was created; re-run it";

/**
 * Drops the first bytes (UTF-8) of each stream's text: what a store already holds
 * from before a crash. Counts what it saw, to tell when Docker had less than that.
 */
export class LogSkipper {
  private readonly left: Record<StreamName, number>;
  readonly seen: Record<StreamName, number> = { stdout: 0, stderr: 0 };

  constructor(private readonly already: Record<StreamName, number>) {
    this.left = { stdout: Math.max(0, Math.trunc(already.stdout || 0)), stderr: Math.max(0, Math.trunc(already.stderr || 0)) };
  }

  /** The part of `text` after the bytes to skip ('' while skipping). */
  take(stream: StreamName, text: string): string {
    const len = Buffer.byteLength(text, 'utf8');
    this.seen[stream] += len;
    const left = this.left[stream];
    if (left === 0) return text;
    if (left >= len) {
      this.left[stream] -= len;
      return '';
    }
    this.left[stream] = 0;
    const bytes = Buffer.from(text, 'utf8');
    // A cut inside a character (the counts disagree: secrets, invalid UTF-8) goes on at the next one.
    let at = left;
    while (at < bytes.length && (bytes[at] & 0xc0) === 0x80) at++;
    return bytes.subarray(at).toString('utf8');
  }

  /** Messages for streams Docker returned fewer bytes of than were stored. */
  shortfalls(): string[] {
    return (['stdout', 'stderr'] as const)
      .filter(s => this.seen[s] < (this.already[s] || 0))
      .map(
        s =>
          `Docker returned only ${this.seen[s]} bytes of ${s}, but ${this.already[s]} were stored before the restart: its log was rotated or cut, ` +
          `so nothing of ${s} was added (what the container wrote while the bridge was down may be missing from it)`
      );
  }
}

/**
 * The containers the engine created (label org.redlab.managed=true), in every state, with
 * what Docker says of each now, sorted by run and batch; `runId` narrows it to one run's.
 */
export async function listManagedContainers(docker: Docker, filter: { runId?: string } = {}): Promise<ManagedContainer[]> {
  const label = [`${LABEL_MANAGED}=true`, ...(filter.runId !== undefined ? [`${LABEL_RUN}=${filter.runId}`] : [])];
  const list = await docker.listContainers({ all: true, filters: { label } });
  const found = await Promise.all(
    list.map(async (c): Promise<ManagedContainer | undefined> => {
      const labels = c.Labels ?? {};
      const runId = labels[LABEL_RUN];
      const batch = Number(labels[LABEL_BATCH]);
      if (!runId || !Number.isSafeInteger(batch) || batch < 0) return undefined;
      let info: Docker.ContainerInspectInfo;
      try {
        info = await docker.getContainer(c.Id).inspect();
      } catch {
        return undefined; // removed meanwhile
      }
      const st = info.State;
      const ended = st.Status === 'exited' || st.Status === 'dead';
      const m: ManagedContainer = {
        containerId: c.Id,
        name: (info.Name ?? c.Names?.[0] ?? '').replace(/^\//, ''),
        runId,
        batch,
        state: st.Status as ManagedContainer['state'],
        labels
      };
      if (ended) m.exitCode = st.ExitCode;
      if (ended || st.OOMKilled) m.oomKilled = st.OOMKilled === true;
      const started = dockerTime(st.StartedAt);
      const finished = dockerTime(st.FinishedAt);
      if (started) m.startedAt = started;
      if (finished && ended) m.finishedAt = finished;
      return m;
    })
  );
  return found.filter((m): m is ManagedContainer => !!m).sort((a, b) => (a.runId === b.runId ? a.batch - b.batch : a.runId < b.runId ? -1 : 1));
}
