// RedLabModel owns the frontend's shared state and emits signals; views only subscribe.
// The bridge's status comes from its health (asked at start, when settings change and by
// a slow poll); the run list is the RunsModel's, which the bridge's stream of run changes
// keeps current (the poll lists runs only while that stream is down).
import { Signal } from '@lumino/signaling';
import { BridgeApi } from './api';
import type { HealthInfo, RunSummary, RunState } from './red';
import { RunsModel } from './runs-model';
import { BridgeError, type BridgeClient } from './handler';
import type { BridgeStatus, IRedLab } from './tokens';

/** The fallback poll's interval (settings: statusPollSeconds). */
export const DEFAULT_POLL_MS = 30_000;

export interface RedLabModelOptions {
  /** For tests: how the runs stream's socket is made. */
  socket?: (url: string) => WebSocket;
  retryMs?: readonly number[];
}

export class RedLabModel implements IRedLab {
  readonly api: BridgeApi;
  readonly runsModel: RunsModel;
  private _status: BridgeStatus = { kind: 'unknown' };
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly statusChanged: Signal<IRedLab, BridgeStatus> = new Signal<IRedLab, BridgeStatus>(this);
  readonly runsChanged: Signal<IRedLab, readonly RunSummary[]> = new Signal<IRedLab, readonly RunSummary[]>(this);

  constructor(
    readonly client: BridgeClient,
    options: RedLabModelOptions = {}
  ) {
    this.api = new BridgeApi(client);
    this.runsModel = new RunsModel({ api: this.api, socket: options.socket, retryMs: options.retryMs });
    this.runsModel.runsChanged.connect((_, runs) => this.runsChanged.emit(runs));
  }

  get status(): BridgeStatus {
    return this._status;
  }

  get runs(): readonly RunSummary[] {
    return this.runsModel.runs;
  }

  /**
   * (Re)connects the runs stream (the bridge's address may have changed) and asks the
   * bridge's health every `intervalMs` (and once now).
   */
  start(intervalMs = DEFAULT_POLL_MS): void {
    this.stop();
    this.runsModel.start();
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.runsModel.stop();
  }

  /** Health; and the run list when no stream keeps it current. */
  async refresh(): Promise<void> {
    await this.refreshHealth();
    if (this._status.kind !== 'unreachable' && !this.runsModel.live) await this.refreshRuns();
  }

  async refreshHealth(): Promise<BridgeStatus> {
    let next: BridgeStatus;
    try {
      const health = await this.api.health();
      next = canRun(health) ? { kind: 'connected', health } : { kind: 'no-engine', health, message: noEngineMessage(health) };
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

  /** Lists the runs now (after a launch or a cancel, or when no stream is open). */
  refreshRuns(): Promise<readonly RunSummary[]> {
    return this.runsModel.refresh();
  }

  /** A run's state as its event stream just told it: the run list (and the status bar) follow at once. */
  noteRunState(runId: string, state: RunState): void {
    this.runsModel.noteRunState(runId, state);
  }

  /** Runs queued and on their way among the runs the bridge listed. */
  get counts(): { queued: number; running: number } {
    return this.runsModel.counts;
  }

  dispose(): void {
    this.stop();
    this.runsModel.dispose();
    Signal.clearData(this);
  }
}

/** Some engine of the bridge can run now (a bridge without an engine list: its Docker engine). */
export function canRun(health: HealthInfo): boolean {
  return health.engines ? health.engines.some(e => e.available) : health.docker.reachable;
}

/** Why no engine can run, each engine's own reason. */
function noEngineMessage(health: HealthInfo): string {
  const reasons = (health.engines ?? []).map(e => `${e.name}: ${e.error ?? 'not available'}`);
  return reasons.length ? `no engine of the bridge can run now (${reasons.join('; ')})` : (health.docker.error ?? 'the bridge cannot reach a Docker engine');
}
