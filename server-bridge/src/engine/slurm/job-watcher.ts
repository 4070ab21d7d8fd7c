// Waits for Slurm jobs to end. One poller for every job this engine follows: one squeue
// call per interval however many batches fan out, then scontrol for a job that has ended
// (its exit code). No sacct: a cluster without slurmdbd has none.
import { isFinalJobState, type SlurmCli, type SlurmJobInfo } from './slurm-cli';

interface Waiter {
  resolve: (info: SlurmJobInfo) => void;
  reject: (err: Error) => void;
  onState?: (state: string) => void;
  last?: string;
}

export class JobWatcher {
  private readonly waiters = new Map<string, Waiter>();
  private running = false;
  private failingSince: number | undefined;

  constructor(
    private readonly cli: SlurmCli,
    private readonly pollMs = 250,
    /** How long Slurm may not answer before the jobs' waits fail. */
    private readonly giveUpMs = 120_000
  ) {}

  /** Resolves with the job's final state and exit code; `onState` hears each new state (PENDING, RUNNING, …). */
  wait(id: string, onState?: (state: string) => void): Promise<SlurmJobInfo> {
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject, onState });
      if (!this.running) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.size) {
        try {
          await this.poll();
          this.failingSince = undefined;
        } catch (err) {
          this.failingSince ??= Date.now();
          if (Date.now() - this.failingSince > this.giveUpMs) {
            const e = new Error(`Slurm did not answer for ${Math.round(this.giveUpMs / 1000)} s (${(err as Error).message}); the job may still run: see squeue`);
            for (const [id, w] of this.waiters) {
              this.waiters.delete(id);
              w.reject(e);
            }
          }
        }
        if (this.waiters.size) await new Promise(r => setTimeout(r, this.pollMs));
      }
    } finally {
      this.running = false;
    }
  }

  private async poll(): Promise<void> {
    const ids = [...this.waiters.keys()];
    const states = await this.cli.states(ids);
    for (const id of ids) {
      const w = this.waiters.get(id);
      if (!w) continue;
      const state = states.get(id);
      if (state && state !== w.last) {
        w.last = state;
        w.onState?.(state);
      }
      if (state && !isFinalJobState(state)) continue;
      const info = (await this.cli.job(id)) ?? { id, state: state ?? 'UNKNOWN' };
      if (!isFinalJobState(info.state) && info.state !== 'UNKNOWN') continue;
      this.waiters.delete(id);
      w.resolve(info);
    }
  }
}
