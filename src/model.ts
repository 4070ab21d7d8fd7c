// RedLabModel owns the frontend's shared state (bridge status, runs) and emits
// signals; views only subscribe. Runs change state as their event streams say (run
// cells feed `noteRunState` at each state event); a slow poll of the bridge's health
// and run list is the fallback for runs no stream follows (started elsewhere).
import { Signal } from '@lumino/signaling';
import { countRuns, mergeListed, stateRank, withRunState } from './streaming/run-list';
import { isFinalState, type HealthInfo, type RunPage, type RunSummary } from './red/bridge-api';
import type { RunState } from './red/run';
import { BridgeClient, BridgeError } from './handler';
import type { BridgeStatus, IRedLab } from './tokens';

/** The fallback poll's interval (settings: statusPollSeconds). */
export const DEFAULT_POLL_MS = 30_000;

export class RedLabModel implements IRedLab {
  private _status: BridgeStatus = { kind: 'unknown' };
  private _runs: readonly RunSummary[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** States the event streams told before the run list had them (run id → state). */
  private readonly seen = new Map<string, RunState>();
  readonly statusChanged: Signal<IRedLab, BridgeStatus> = new Signal<IRedLab, BridgeStatus>(this);
  readonly runsChanged: Signal<IRedLab, readonly RunSummary[]> = new Signal<IRedLab, readonly RunSummary[]>(this);

  constructor(readonly client: BridgeClient) {}

  get status(): BridgeStatus {
    return this._status;
  }

  get runs(): readonly RunSummary[] {
    return this._runs;
  }

  /** Polls the bridge's health and run list every `intervalMs` (and once now). */
  start(intervalMs = DEFAULT_POLL_MS): void {
    this.stop();
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async refresh(): Promise<void> {
    await this.refreshHealth();
    if (this._status.kind !== 'unreachable') await this.refreshRuns();
  }

  async refreshHealth(): Promise<BridgeStatus> {
    let next: BridgeStatus;
    try {
      const health = await this.client.request<HealthInfo>('health');
      next = health.docker.reachable
        ? { kind: 'connected', health }
        : { kind: 'no-engine', health, message: health.docker.error ?? 'the bridge cannot reach a Docker engine' };
    } catch (err) {
      const status = err instanceof BridgeError ? err.status : 0;
      next = {
        kind: 'unreachable',
        message:
          status === 404 || status === 0
            ? 'The RED Lab bridge is not running. Install the Python package (pip install jupyterlab-redlab) so JupyterLab starts it, or start it with `redlab bridge` and set its URL in Settings › RED Lab.'
            : `The RED Lab bridge answered ${status}: ${(err as Error).message}`
      };
    }
    if (JSON.stringify(next) !== JSON.stringify(this._status)) {
      this._status = next;
      this.statusChanged.emit(next);
    }
    return next;
  }

  async refreshRuns(): Promise<readonly RunSummary[]> {
    try {
      const page = await this.client.request<RunPage>('runs?limit=100');
      // A list asked for before a state event may answer after it: merged, states only go forward.
      const runs = mergeListed(page.runs, this.seen);
      for (const r of runs) if (isFinalState(r.state)) this.seen.delete(r.id);
      this.setRuns(runs);
    } catch {
      /* the health poll reports an unreachable bridge */
    }
    return this._runs;
  }

  /**
   * A run's state as its event stream just told it: the run list (and so the status bar)
   * follows at once, also for a run the list does not have yet.
   */
  noteRunState(runId: string, state: RunState): void {
    // Kept until a listed page has the run in a final state (a page asked for earlier may come later).
    const seen = this.seen.get(runId);
    if (!seen || stateRank(state) > stateRank(seen)) this.seen.set(runId, state);
    const listed = this._runs.some(r => r.id === runId);
    this.setRuns(withRunState(this._runs, runId, state));
    // A run the list does not have yet: the bridge tells the rest (notebook, times).
    if (!listed) void this.refreshRuns();
  }

  /** Runs queued and on their way among the runs the bridge listed. */
  get counts(): { queued: number; running: number } {
    return countRuns(this._runs);
  }

  private setRuns(runs: readonly RunSummary[]): void {
    if (runs === this._runs || JSON.stringify(runs) === JSON.stringify(this._runs)) return;
    this._runs = runs;
    this.runsChanged.emit(this._runs);
  }

  dispose(): void {
    this.stop();
    Signal.clearData(this);
  }
}
